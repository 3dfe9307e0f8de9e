"""Generation on the operator's own ComfyUI engine (the stand-in on loopback), from
GraphQL, on SQLite and PostgreSQL: the models, a full job, consent, allowlists."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

from PIL import Image

from resolvers.generation.errors import ReferenceNotUsable
from resolvers.generation.references import clean_reference_png
from tests.generation.comfyui_engine import ComfyUIEngine
from tests.generation.conftest import (
    add_reference,
    balance,
    blobs_patched,
    generate,
    generation_config,
    grant,
    history_ids,
)
from tests.support.app import Api

LOCAL = "local/instantid-sdxl"
TWO_FACES = "local/two-faces"
MODELS = """{ generationModels { id provider description configured referenceCount maxImages
  prices { quality credits } } }"""
UPLOAD_NAME = re.compile(r"meimages-[0-9a-f]{24}-[0-9]\.png")


async def clean(api: Api, owner: str, image: dict[str, Any]) -> bytes:
    """The clean PNG of a stored reference: what a provider may receive of it."""
    stored = await api.stores.sealed.get(owner, image["storagePath"])
    assert stored is not None
    return clean_reference_png(stored, max_pixels=api.stores.config.limits.max_image_pixels)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def models(api: Api, owner: str) -> dict[str, dict[str, Any]]:
    data = await api.gql(MODELS, user=owner)
    return {m["id"]: m for m in data["generationModels"]}


async def test_workflows_are_models_with_their_prices(comfy_api: Api, owner: str) -> None:
    listed = await models(comfy_api, owner)
    assert listed[LOCAL] == {
        "id": LOCAL,
        "provider": "comfyui",
        "description": listed[LOCAL]["description"],
        "configured": True,
        "referenceCount": 1,
        "maxImages": 4,
        "prices": [
            {"quality": "LOW", "credits": 0},
            {"quality": "MEDIUM", "credits": 0},
            {"quality": "HIGH", "credits": 0},
        ],
    }
    assert listed[LOCAL]["description"].startswith("InstantID on SDXL")
    assert listed[TWO_FACES]["prices"] == [
        {"quality": q, "credits": 3} for q in ("LOW", "MEDIUM", "HIGH")
    ]
    assert (listed[TWO_FACES]["referenceCount"], listed[TWO_FACES]["maxImages"]) == (2, 1)
    # The built-in models stay, unconfigured here.
    assert listed["openai/gpt-image-2"]["configured"] is False
    # Without an engine the workflows are still listed, as not configured (another
    # document: the answer of the first one may be cached, the settings never change live).
    with generation_config(comfy_api, comfyui=None):
        data = await comfy_api.gql(
            "{ unconfigured: generationModels { id configured } }", user=owner
        )
    assert {"id": LOCAL, "configured": False} in data["unconfigured"]


async def test_without_an_engine_a_local_model_is_not_configured(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    ref = await add_reference(comfy_api, owner, 40)
    with generation_config(comfy_api, comfyui=None):
        result = await generate(comfy_api, owner, [ref["id"]], model=LOCAL)
    assert result["__typename"] == "ProviderNotConfiguredError", result
    assert result["provider"] == "comfyui" and "MEIMAGES_COMFYUI_URL" in result["message"]
    assert engine.uploads == [] and engine.prompts == []


async def test_full_generation_through_the_engine(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    ref = await add_reference(comfy_api, owner, 41)
    # Price 0: no credits needed.
    result = await generate(
        comfy_api,
        owner,
        [ref["id"]],
        prompt="me as an astronaut",
        model=LOCAL,
        size="LANDSCAPE",
        n=2,
    )
    assert result["__typename"] == "Generation", result
    assert result["status"] == "SUCCEEDED"
    assert (result["modelRequested"], result["modelUsed"], result["cost"]) == (LOCAL, LOCAL, 0)
    assert len(result["images"]) == 2
    for image in result["images"]:
        assert image["mediaId"] and image["contentType"] == "image/png"
        assert (image["width"], image["height"]) == (1536, 1024)
        stored = await comfy_api.client.get(image["url"])
        assert stored.status_code == 200
        kept = decoded(stored.content)
        # Stored like any provider's output: re-encoded, so SaveImage's graph is gone.
        assert kept.size == (1536, 1024) and "prompt" not in kept.info
    # What the engine got: one clean PNG of the opted-in reference, under a random name.
    (upload,) = engine.uploads
    assert upload.problems == [] and upload.kind == "input" and upload.subfolder == "meimages"
    assert UPLOAD_NAME.fullmatch(upload.filename), upload.filename
    assert upload.data == await clean(comfy_api, owner, ref)
    (job,) = engine.prompts
    assert job.client_id and engine.connected == [job.client_id]
    assert job.graph["5"]["inputs"]["image"] == f"meimages/{upload.filename}"
    assert job.graph["6"]["inputs"]["text"].startswith("me as an astronaut, photograph")
    assert job.graph["9"]["inputs"] == {"width": 1536, "height": 1024, "batch_size": 2}
    assert isinstance(job.graph["10"]["inputs"]["seed"], int)
    assert "meimages" not in job.graph  # our metadata stays here
    # The engine's history entry (the graph, prompt included) was deleted after the job.
    assert engine.forgotten == [job.prompt_id] and job.prompt_id not in engine.history
    kinds = [kind for kind, data in engine.messages if data.get("prompt_id") == job.prompt_id]
    assert kinds[0] == "execution_start" and "progress" in kinds and "executed" in kinds
    assert await history_ids(comfy_api, owner) == [result["id"]]
    # The ledger names the engine as the recipient.
    data = await comfy_api.gql("{ profile { recipients { provider host uses } } }", user=owner)
    assert data["profile"]["recipients"] == [
        {"provider": "COMFYUI", "host": "127.0.0.1", "uses": 1}
    ]


async def test_priced_workflow_charges_per_image(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    first, second = (
        await add_reference(comfy_api, owner, 42),
        await add_reference(comfy_api, owner, 43),
    )
    await grant(comfy_api, owner, 10)
    result = await generate(comfy_api, owner, [first["id"], second["id"]], model=TWO_FACES)
    assert result["__typename"] == "Generation", result
    assert result["cost"] == 3 and len(result["images"]) == 1
    assert await balance(comfy_api, owner) == 7
    # Both references, in order; the preview (type "temp") is not an output.
    assert [u.data for u in engine.uploads] == [
        await clean(comfy_api, owner, first),
        await clean(comfy_api, owner, second),
    ]
    (job,) = engine.prompts
    assert [job.graph[n]["inputs"]["image"] for n in ("2", "3")] == [
        f"meimages/{u.filename}" for u in engine.uploads
    ]


async def test_a_workflow_takes_its_own_number_of_references_and_images(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    ref = await add_reference(comfy_api, owner, 44)
    await grant(comfy_api, owner, 10)
    one = await generate(comfy_api, owner, [ref["id"]], model=TWO_FACES)
    assert (one["__typename"], one["field"]) == ("InvalidInputError", "referenceImageIds")
    assert "exactly 2" in one["message"]
    other = await add_reference(comfy_api, owner, 45)
    many = await generate(comfy_api, owner, [ref["id"], other["id"]], model=TWO_FACES, n=2)
    assert (many["__typename"], many["field"]) == ("InvalidInputError", "n")
    assert engine.uploads == [] and engine.prompts == []
    assert await balance(comfy_api, owner) == 10


async def test_the_engine_never_receives_an_image_not_opted_in(
    comfy_api: Api, owner: str, other_owner: str, engine: ComfyUIEngine
) -> None:
    good = await add_reference(comfy_api, owner, 46)
    not_opted = await add_reference(comfy_api, owner, 47, opt_in=False)
    foreign = await add_reference(comfy_api, other_owner, 48)
    for bad in (not_opted, foreign):
        result = await generate(comfy_api, owner, [good["id"], bad["id"]], model=TWO_FACES)
        assert result["__typename"] == "ReferenceNotUsableError", result
        assert result["message"] == ReferenceNotUsable.MESSAGE
    await comfy_api.gql(
        "mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }",
        user=owner,
    )
    off = await generate(comfy_api, owner, [good["id"]], model=LOCAL)
    assert off["__typename"] == "ReferenceNotUsableError", off
    assert engine.uploads == [] and engine.prompts == [] and engine.connected == []


async def test_consent_withdrawn_before_the_send_stops_it(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    """The owner opts out after the request was checked, while its references are being
    prepared: the check at send time refuses it, and the engine receives nothing."""
    ref = await add_reference(comfy_api, owner, 49)
    real = comfy_api.stores.blobs
    toggled: list[Any] = []

    async def read_then_opt_out(key: str) -> bytes | None:
        data = await real.get(key)
        if not toggled:
            toggled.append(
                await comfy_api.gql(
                    "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: false) "
                    "{ ... on MeImage { usage { aiReference } } } }",
                    {"id": ref["id"]},
                    user=owner,
                )
            )
        return data

    with blobs_patched(comfy_api, get=read_then_opt_out):
        result = await generate(comfy_api, owner, [ref["id"]], model=LOCAL)
    assert toggled and toggled[0]["setAiReferenceEnabled"]["usage"]["aiReference"] is False
    assert result["__typename"] == "ReferenceNotUsableError", result
    assert engine.uploads == [] and engine.prompts == [] and engine.connected == []
    assert await history_ids(comfy_api, owner) == []


async def test_the_allowlists_rule_out_the_engine(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    ref = await add_reference(comfy_api, owner, 50)
    await comfy_api.gql(
        "mutation { setAllowedProviders(providers: [OPENAI]) { allowedProviders } }", user=owner
    )
    result = await generate(comfy_api, owner, [ref["id"]], model=LOCAL)
    assert result["__typename"] == "ProviderNotAllowedError", result
    await comfy_api.gql(
        "mutation { setAllowedProviders(providers: [COMFYUI]) { allowedProviders } }", user=owner
    )
    with generation_config(comfy_api, allowed_providers=frozenset()):
        server = await generate(comfy_api, owner, [ref["id"]], model=LOCAL)
    assert server["__typename"] == "ProviderNotAllowedError", server
    assert engine.uploads == [] and engine.prompts == []
    allowed = await generate(comfy_api, owner, [ref["id"]], model=LOCAL)
    assert allowed["__typename"] == "Generation", allowed


async def test_a_retry_with_the_same_key_queues_nothing_more(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    first, second = (
        await add_reference(comfy_api, owner, 51),
        await add_reference(comfy_api, owner, 52),
    )
    await grant(comfy_api, owner, 10)
    mutation = (
        "mutation($input: GenerationInput!, $key: String) {"
        " generateWithReference(input: $input, idempotencyKey: $key) {"
        " __typename ... on Generation { id cost } } }"
    )
    variables = {
        "input": {
            "prompt": "us two",
            "referenceImageIds": [first["id"], second["id"]],
            "model": TWO_FACES,
        },
        "key": "k-51",
    }
    made = (await comfy_api.gql(mutation, variables, user=owner))["generateWithReference"]
    again = (await comfy_api.gql(mutation, variables, user=owner))["generateWithReference"]
    assert made["__typename"] == "Generation", made
    assert again == made and made["cost"] == 3
    assert len(engine.prompts) == 1 and len(engine.uploads) == 2
    assert await balance(comfy_api, owner) == 7


async def test_two_jobs_at_once_each_get_their_own_outcome(
    comfy_api: Api, owner: str, engine: ComfyUIEngine
) -> None:
    """The engine runs one job at a time: the second waits in its queue while the first
    is held, and each call follows its own job on its own socket."""
    ref = await add_reference(comfy_api, owner, 53)
    engine.hold()
    first = asyncio.create_task(generate(comfy_api, owner, [ref["id"]], model=LOCAL, prompt="one"))
    await engine.wait_until(engine.held)
    engine.queued.clear()
    second = asyncio.create_task(
        generate(comfy_api, owner, [ref["id"]], model=LOCAL, prompt="two", n=2)
    )
    await engine.wait_until(engine.queued)
    assert [job.prompt_id for job in engine.pending] == [engine.prompts[1].prompt_id]
    engine.release()
    one, two = await first, await second
    assert one["__typename"] == two["__typename"] == "Generation", (one, two)
    assert (one["prompt"], len(one["images"])) == ("one", 1)
    assert (two["prompt"], len(two["images"])) == ("two", 2)
    media = [image["mediaId"] for image in one["images"] + two["images"]]
    assert len(set(media)) == 3
    jobs = engine.prompts
    assert [job.graph["6"]["inputs"]["text"].split(",")[0] for job in jobs] == ["one", "two"]
    assert len({job.client_id for job in jobs}) == 2
    assert sorted(engine.connected) == sorted(job.client_id for job in jobs)
