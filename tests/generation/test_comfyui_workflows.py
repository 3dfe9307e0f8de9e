"""Workflow files as the operator writes them, the settings that load them, and the
provider on its own against the stand-in engine (mask, and no WebSocket)."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from api.settings import ConfigError, Settings
from resolvers.config.generation import ComfyUIEngine as EngineConfig
from resolvers.config.generation import GenerationConfig
from resolvers.config.workflows import parse_workflow
from resolvers.generation.comfyui import ComfyUIProvider
from resolvers.generation.errors import ProviderFailed
from resolvers.generation.pricing import Quality, Size, catalogue
from resolvers.generation.providers import ImageRequest
from resolvers.generation.registry import provider_for
from testbed.server import MEIMAGES, clean_environment
from tests.generation.comfyui_engine import ComfyUIEngine, Mode
from tests.generation.conftest import EXAMPLE_WORKFLOW, TWO_FACES_WORKFLOW
from tests.support.provider_server import make_png

VARIABLE = "MEIMAGES_COMFYUI_WORKFLOWS"
MASKED = {
    "meimages": {"name": "inpaint-face"},
    "1": {"class_type": "LoadImage", "inputs": {"image": "{{reference_1}}"}},
    "2": {"class_type": "LoadImageMask", "inputs": {"image": "{{mask}}", "channel": "alpha"}},
    "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}"}},
    "4": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}"}},
    "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0]}},
}


def node(inputs: dict[str, Any], cls: str = "CLIPTextEncode") -> dict[str, Any]:
    return {"class_type": cls, "inputs": inputs}


BASE = {"1": node({"image": "{{reference_1}}"}, "LoadImage"), "2": node({"text": "{{prompt}}"})}
INVALID: dict[str, tuple[str, str]] = {
    "not-json": ("{", "not valid JSON"),
    "a-list": ("[]", "expected a JSON object"),
    "ui-format": (
        json.dumps({"nodes": [], "links": []}),
        "export the workflow with 'Export (API)'",
    ),
    "no-prompt": (json.dumps({"1": BASE["1"]}), "no {{prompt}} placeholder"),
    "no-reference": (json.dumps({"2": BASE["2"]}), "no {{reference_1}} placeholder"),
    "gap": (
        json.dumps({**BASE, "3": node({"image": "{{reference_3}}"}, "LoadImage")}),
        "numbered 1, 2, ... without gaps",
    ),
    "unknown": (json.dumps({**BASE, "3": node({"x": "{{negative}}"})}), "unknown placeholder"),
    "embedded": (
        json.dumps({**BASE, "3": node({"seed": "seed {{seed}}"}, "KSampler")}),
        "{{seed}} must be the whole value",
    ),
    "not-a-node": (json.dumps({**BASE, "3": {"inputs": {}}}), "node '3' is not a node"),
    "bad-name": (json.dumps({**BASE, "meimages": {"name": "Has Spaces"}}), "name 'Has Spaces'"),
    "bad-price": (json.dumps({**BASE, "meimages": {"price": -1}}), "price must be a whole"),
    "bad-meta": (json.dumps({**BASE, "meimages": {"cost": 1}}), "unknown key 'cost'"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_workflow_stops_start_up(tmp_path: Path, case: str) -> None:
    text, reason = INVALID[case]
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({VARIABLE: str(path)})
    message = str(raised.value)
    assert message.startswith(f"{VARIABLE}: {path}: "), message
    assert reason in message


def test_missing_and_duplicate_workflows_stop_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"{VARIABLE}: .*missing.json: cannot be read"):
        Settings.from_env({VARIABLE: str(tmp_path / "missing.json")})
    copy = tmp_path / "copy.json"
    copy.write_text(EXAMPLE_WORKFLOW.read_text())
    with pytest.raises(ConfigError, match="a second workflow named 'instantid-sdxl'"):
        Settings.from_env({VARIABLE: f"{EXAMPLE_WORKFLOW},{copy}"})
    with pytest.raises(ConfigError, match="MEIMAGES_COMFYUI_URL: expected an http"):
        Settings.from_env({"MEIMAGES_COMFYUI_URL": "ftp://gpu-box:8188"})


def test_the_settings_make_the_engine_and_its_models(tmp_path: Path) -> None:
    plain = tmp_path / "Portrait.json"
    plain.write_text(json.dumps(BASE))
    settings = Settings.from_env(
        {
            "MEIMAGES_COMFYUI_URL": "http://gpu-box:8188/",
            VARIABLE: f"{EXAMPLE_WORKFLOW}, {plain}",
            "MEIMAGES_COMFYUI_TIMEOUT": "900",
        }
    )
    config = settings.generation_config()
    assert config.comfyui == EngineConfig("http://gpu-box:8188", timeout_s=900.0)
    models = catalogue(config)
    # The name defaults to the file's, lower-cased; the price to 0.
    assert models["local/portrait"].prices == dict.fromkeys(Quality, 0)
    assert models["local/instantid-sdxl"].max_n == 4 and models["local/portrait"].max_n == 1
    assert "openai/gpt-image-2" in models
    # Without an engine URL the models are still there; the provider is not configured.
    assert "local/portrait" in catalogue(
        Settings.from_env({VARIABLE: str(plain)}).generation_config()
    )


def test_the_prompt_is_taken_literally() -> None:
    workflow = parse_workflow(json.dumps(TWO_FACES_WORKFLOW), "x")
    graph = workflow.fill(
        prompt=r"a \1 {{seed}} \g<0> prompt",
        references=["a.png", "b.png"],
        mask=None,
        seed=7,
        width=1024,
        height=1536,
        batch_size=1,
    )
    assert graph["5"]["inputs"]["text"] == r"a \1 {{seed}} \g<0> prompt"
    assert graph["7"]["inputs"]["seed"] == 7
    assert graph["6"]["inputs"] == {"width": 1024, "height": 1536, "batch_size": 1}


# The provider alone, against the stand-in ------------------------------------------


def png(size: tuple[int, int], seed: int) -> bytes:
    return make_png(size, seed)


@pytest.fixture
def masked(engine: ComfyUIEngine, tmp_path: Path) -> Iterator[ComfyUIProvider]:
    path = tmp_path / "inpaint.json"
    path.write_text(json.dumps(MASKED))
    settings = Settings.from_env(
        {"MEIMAGES_COMFYUI_URL": engine.url, VARIABLE: f"{path},{EXAMPLE_WORKFLOW}"}
    )
    config: GenerationConfig = settings.generation_config()
    provider = provider_for(config, catalogue(config)["local/inpaint-face"])
    assert isinstance(provider, ComfyUIProvider)
    yield provider


def request(model: str, *, mask: bytes | None = None, n: int = 1) -> ImageRequest:
    return ImageRequest(
        model=_MODELS[model],
        prompt="me, by the sea",
        size=Size.PORTRAIT,
        quality=Quality.LOW,
        n=n,
        references=[png((512, 512), 1)],
        mask=mask,
    )


_MODELS = catalogue(
    GenerationConfig(
        workflows=(
            parse_workflow(json.dumps(MASKED), "x"),
            parse_workflow(EXAMPLE_WORKFLOW.read_text(), "x"),
        )
    )
)


async def test_a_mask_is_uploaded_and_put_in_its_place(
    masked: ComfyUIProvider, engine: ComfyUIEngine
) -> None:
    assert masked.accepts_mask("local/inpaint-face") is True
    assert masked.accepts_mask("local/instantid-sdxl") is False
    assert masked.accepts_mask("openai/gpt-image-2") is False
    mask = png((512, 512), 9)
    result = await masked.generate(request("local/inpaint-face", mask=mask))
    assert result.model_used == "local/inpaint-face" and len(result.images) == 1
    reference, uploaded_mask = engine.uploads
    assert reference.filename.endswith("-1.png") and uploaded_mask.filename.endswith("-mask.png")
    assert uploaded_mask.data == mask
    (job,) = engine.prompts
    assert job.graph["2"]["inputs"]["image"] == f"meimages/{uploaded_mask.filename}"
    assert job.graph["1"]["inputs"]["image"] == f"meimages/{reference.filename}"


async def test_a_mask_workflow_without_a_mask_sends_nothing(
    masked: ComfyUIProvider, engine: ComfyUIEngine
) -> None:
    with pytest.raises(ProviderFailed, match="needs a mask"):
        await masked.generate(request("local/inpaint-face"))
    assert engine.uploads == [] and engine.prompts == []
    with pytest.raises(ProviderFailed, match="takes no mask"):
        await masked.generate(request("local/instantid-sdxl", mask=png((64, 64), 2)))
    assert engine.uploads == [] and engine.prompts == []


async def test_without_the_websocket_the_history_is_polled(
    masked: ComfyUIProvider, engine: ComfyUIEngine
) -> None:
    """The socket closes after its first message: the outcome comes from /history."""
    engine.mode = Mode.NO_SOCKET
    result = await masked.generate(request("local/instantid-sdxl", n=3))
    assert len(result.images) == 3
    for data in result.images:
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.size == (1024, 1536)
    (job,) = engine.prompts
    assert job.graph["9"]["inputs"]["batch_size"] == 3


def test_a_long_engine_timeout_keeps_the_credit_hold_alive() -> None:
    """A pending generation's hold (and its heartbeat) lasts past the longest call."""
    cloud = GenerationConfig(timeout_s=180.0)
    local = GenerationConfig(timeout_s=180.0, comfyui=EngineConfig("http://gpu:8188", 3600.0))
    assert cloud.hold_ttl_s == 2 * (180.0 + 10.0) + 120.0
    assert local.hold_ttl_s == 2 * (3600.0 + 10.0) + 120.0


def test_serve_refuses_to_start_with_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "portrait.json"
    broken.write_text(json.dumps({"1": node({"text": "{{prompt}}"})}))
    done = subprocess.run(
        [str(MEIMAGES), "serve", "--data-dir", str(tmp_path / "data")],
        env={**clean_environment(), VARIABLE: str(broken)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        f"meimages: invalid configuration: {VARIABLE}: {broken}: no {{{{reference_1}}}} "
        "placeholder" in done.stderr
    )
    assert not (tmp_path / "data").exists()
