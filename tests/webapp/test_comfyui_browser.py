"""The operator's own engine in the web app (headless Chromium): the workflows are in the
model list, a one-face workflow asks for one reference, and a generation through the
stand-in engine shows its images."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testbed.server import LiveServer, start_server
from tests.generation.comfyui_engine import ComfyUIEngine
from tests.generation.conftest import EXAMPLE_WORKFLOW
from tests.mcp.agent import Pool
from tests.webapp.web import CHROMIUM, ensure_web_modules, run_browser_script


@pytest.fixture(scope="module")
def engine() -> Iterator[ComfyUIEngine]:
    stand_in = ComfyUIEngine()
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, engine: ComfyUIEngine) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp("webapp-comfyui"),
        {"MEIMAGES_COMFYUI_URL": engine.url, "MEIMAGES_COMFYUI_WORKFLOWS": str(EXAMPLE_WORKFLOW)},
    )
    yield live
    live.stop()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (CI installs Debian's chromium)")
async def test_a_local_model_in_the_web_app(
    server: LiveServer, engine: ComfyUIEngine, tmp_path: Path
) -> None:
    ensure_web_modules()
    owner = "webapp-comfyui"
    async with httpx.AsyncClient(timeout=60) as http:
        pool = Pool(server.graphql(http), owner)
        references = [await pool.add(80), await pool.add(81)]
    config = {"base": server.url, "token": server.token(owner), "shots": str(tmp_path)}
    report = await asyncio.to_thread(
        run_browser_script, "comfyui_browser.cjs", config, tmp_path, timeout_s=900
    )
    assert report["failed"] == [] and report["pageErrors"] == []
    assert {"value": "local/instantid-sdxl", "label": "local/instantid-sdxl"} in report["models"]
    assert "exactly 1 reference images; 2 selected" in report["referenceCount"]
    assert report["sendDisabled"] is True and report["counts"] == ["1", "2", "3", "4"]
    assert "Price: 0 credits" in report["price"]
    assert "Charged 0 credits" in report["charged"] and "local/instantid-sdxl" in report["charged"]
    assert len(report["outputs"]) == 2
    # The engine received exactly the one reference left selected.
    (upload,) = engine.uploads
    assert upload.problems == []
    (job,) = engine.prompts
    assert job.graph["9"]["inputs"]["batch_size"] == 2
    assert len(references) == 2
