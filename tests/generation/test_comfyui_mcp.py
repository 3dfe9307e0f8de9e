"""A live `meimages serve` with its engine set by environment variables: the workflows
are MCP models too, and a generation through the stand-in engine works from MCP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from testbed.images import decode
from testbed.server import LiveServer
from tests.generation.comfyui_engine import ComfyUIEngine, Mode
from tests.mcp.agent import Pool, data_of, error_of, grant, images_of, mcp_session, new_owner
from tests.support.databases import BACKENDS
from tests.support.live import live_server_on

LOCAL = "local/instantid-sdxl"
TWO_FACES = "local/two-faces"


@pytest.fixture(scope="module", params=BACKENDS)
def comfy_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    comfyui_engine: ComfyUIEngine,
    workflow_files: str,
) -> Iterator[LiveServer]:
    backend: str = request.param
    settings = {
        "MEIMAGES_COMFYUI_URL": comfyui_engine.url,
        "MEIMAGES_COMFYUI_WORKFLOWS": workflow_files,
    }
    data_dir = tmp_path_factory.mktemp(f"comfy-mcp-{backend}")
    with live_server_on(backend, data_dir, settings, "meimages_comfy") as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def test_generation_on_the_engine_from_mcp(
    comfy_server: LiveServer, engine: ComfyUIEngine, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(comfy_server.graphql(http), owner)
    reference = await pool.add(70)
    arguments = {"prompt": "me on a mountain", "referenceImageIds": [reference], "model": LOCAL}
    async with mcp_session(comfy_server, owner) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        enum = tools["me.generateWithReference"].inputSchema["properties"]["model"]["enum"]
        assert LOCAL in enum and TWO_FACES in enum and "openai/gpt-image-2" in enum
        result = await session.call_tool("me.generateWithReference", {**arguments, "n": 2})
        generation = data_of(result)
        assert generation["status"] == "succeeded" and generation["model"] == LOCAL
        assert generation["cost"] == 0
        assert [image.size for image in images_of(result)] == [(1024, 1024)] * 2
        for output in generation["images"]:
            stored = await http.get(output["imageUrl"])
            assert stored.status_code == 200 and decode(stored.content).size == (1024, 1024)
        (upload,) = engine.uploads
        assert upload.problems == []
        # A failure is a tool error with the stable code, and charges nothing.
        grant(comfy_server, owner, 10)
        second = await pool.add(71)
        engine.mode = Mode.EXECUTION_ERROR
        failed = error_of(
            await session.call_tool(
                "me.generateWithReference",
                {**arguments, "model": TWO_FACES, "referenceImageIds": [reference, second]},
            )
        )
        assert failed["code"] == "PROVIDER_FAILED" and failed["generationId"]
        profile = data_of(await session.call_tool("me.getProfile", {}))
        assert profile["credits"] == 10
