"""Every way the engine fails is a typed ProviderFailedError, and nothing is charged."""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Any

import pytest

from resolvers.config.generation import ComfyUIEngine as EngineConfig
from tests.generation.comfyui_engine import ComfyUIEngine, Mode
from tests.generation.conftest import (
    add_reference,
    balance,
    generate,
    generation_config,
    grant,
    ledger,
)
from tests.support.app import Api

TWO_FACES = "local/two-faces"
GENERATION = """query($id: ID!) { generation(id: $id) { status cost failure } }"""


async def failed_without_charge(api: Api, owner: str, result: dict[str, Any]) -> str:
    """The detail of a ProviderFailedError whose generation failed and charged nothing."""
    assert result["__typename"] == "ProviderFailedError", result
    assert result["code"] == "PROVIDER_FAILED" and result["provider"] == "comfyui"
    assert result["generationId"]
    data = await api.gql(GENERATION, {"id": result["generationId"]}, user=owner)
    assert data["generation"]["status"] == "FAILED" and data["generation"]["cost"] == 0
    assert data["generation"]["failure"] == result["detail"]
    assert await balance(api, owner) == 10
    assert [e for e in await ledger(api, owner) if e["generation_id"]] == []
    detail: str = result["detail"]
    return detail


async def two_references(api: Api, owner: str) -> list[str]:
    await grant(api, owner, 10)
    return [(await add_reference(api, owner, seed))["id"] for seed in (60, 61)]


async def test_node_errors_in_the_queue_answer(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    engine.mode = Mode.NODE_ERRORS
    result = await generate(
        comfy_api, owner, await two_references(comfy_api, owner), model=TWO_FACES
    )
    detail = await failed_without_charge(comfy_api, owner, result)
    assert detail == (
        "the engine refused the workflow: prompt_outputs_failed_validation; "
        "node 4 (CheckpointLoaderSimple): value_not_in_list"
    )
    # The engine's own words (file names, inputs) are not passed on.
    assert "safetensors" not in result["message"]
    assert engine.pending == [] and len(engine.prompts) == 1


async def test_an_execution_error_message(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    engine.mode = Mode.EXECUTION_ERROR
    references = await two_references(comfy_api, owner)
    result = await generate(comfy_api, owner, references, model=TWO_FACES, prompt="secret words")
    detail = await failed_without_charge(comfy_api, owner, result)
    assert detail == "the workflow failed at node 7 (KSampler): torch.OutOfMemoryError"
    # Its exception message quotes the graph, prompt included: never repeated.
    assert "secret" not in result["message"] and "CUDA" not in result["message"]


async def test_the_engine_is_down(comfy_api: Api, owner: str, engine: ComfyUIEngine) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    references = await two_references(comfy_api, owner)
    with generation_config(comfy_api, comfyui=EngineConfig(f"http://127.0.0.1:{port}")):
        result = await generate(comfy_api, owner, references, model=TWO_FACES)
    detail = await failed_without_charge(comfy_api, owner, result)
    assert detail == "could not reach the engine (ConnectionRefusedError)"


async def test_the_engine_restarts_during_the_job(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    """The socket drops, and the restarted engine has neither the job nor its history."""
    engine.mode = Mode.RESTART
    result = await generate(
        comfy_api, owner, await two_references(comfy_api, owner), model=TWO_FACES
    )
    detail = await failed_without_charge(comfy_api, owner, result)
    assert detail == "the engine lost the job (it restarted or was cleared)"


@pytest.mark.parametrize("where", ["running", "queued"])
async def test_a_timeout_interrupts_and_dequeues_the_job(
    comfy_api: Api, owner: str, engine: ComfyUIEngine, where: str
) -> None:
    """The job never ends by itself (held at its sampler, or stuck behind another job):
    past the engine's timeout it is interrupted and taken off the queue. The small
    timeout cannot change the verdict: the job waits until the engine is told."""
    if where == "running":
        engine.hold()
    else:
        engine.pause()
    references = await two_references(comfy_api, owner)
    config = comfy_api.stores.config.generation.comfyui
    assert config is not None
    with generation_config(comfy_api, comfyui=replace(config, timeout_s=0.5)):
        result = await generate(comfy_api, owner, references, model=TWO_FACES)
    detail = await failed_without_charge(comfy_api, owner, result)
    assert detail == ("no result within 0.5 s; the job was interrupted and taken off the queue")
    (job,) = engine.prompts
    assert engine.interrupts == [{"prompt_id": job.prompt_id}]
    assert engine.deletes == [job.prompt_id]
    assert engine.pending == [] and engine.forgotten == [job.prompt_id]
    # Running, it was interrupted at its sampler; queued, it never ran.
    assert job.interrupted is (where == "running")
    if where == "running":
        await engine.wait_until(engine.held)
