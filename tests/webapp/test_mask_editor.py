"""The mask editor and "From my generations" in headless Chromium against a live server and
the provider test server: strokes by mouse, touch and pen, undo, eraser, keyboard-only
presets, invert, clear and preview; then a masked generation with a chained output, whose
mask and image parts the provider test server checks. axe on the page; screenshots."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from testbed.images import jpeg
from testbed.server import LiveServer
from tests.support.provider_server import ProviderServer
from tests.webapp.web import (
    CHROMIUM,
    assert_accessible_and_fitting,
    call,
    ensure_web_modules,
    generating_server,
    opted_in_reference,
    run_browser_script,
    shots_folder,
)

OWNER = "mask-person"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider_server: ProviderServer
) -> Iterator[LiveServer]:
    live = generating_server(tmp_path_factory.mktemp("webapp-mask"), provider_server)
    yield live
    live.stop()


def _prepare(server: LiveServer) -> None:
    """A landscape reference opted in, and one generation whose output can be chained."""
    granted = server.cli("credits", "grant", "--user", OWNER, "100")
    assert granted.returncode == 0, granted.stderr
    image_id = opted_in_reference(server, OWNER, jpeg(61, size=(1200, 900)))
    made = call(
        server,
        OWNER,
        "mutation($input: GenerationInput!) { generateWithReference(input: $input) "
        "{ __typename } }",
        {"input": {"prompt": "me", "referenceImageIds": [image_id], "quality": "LOW"}},
    )
    assert made["generateWithReference"] == {"__typename": "Generation"}, made


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (CI installs Debian's chromium)")
def test_a_person_draws_a_mask_and_chains_a_result(
    server: LiveServer, provider: ProviderServer, tmp_path: Path
) -> None:
    ensure_web_modules()
    _prepare(server)
    provider.reset()
    config = {
        "base": server.url,
        "token": server.token(OWNER),
        "shots": str(shots_folder(tmp_path)),
    }
    report = run_browser_script("mask_browser.cjs", config, tmp_path, timeout_s=900)
    assert report["failed"] == [] and report["pageErrors"] == [] and report["cspViolations"] == []

    # The picker offered the earlier output; allowing it selected it as the second reference.
    assert report["generatedBefore"] == 1
    assert report["pickedBeforeEvents"].startswith("2 of")
    # Its ADDED event (AI use still off) came after the answer that switched AI use on, and
    # changed nothing: the older state does not undo the newer one.
    assert report["pickedAfterStaleEvent"].startswith("2 of")
    assert report["chainedAfterStaleEvent"] is True
    assert report["pickedAfterChain"].startswith("2 of")
    # The canvas has the reference's aspect ratio (1200 x 900).
    assert report["canvasSize"] == [512, 384]

    p = report["percents"]
    assert p["start"] == 0 and p["mouse"] > 0 and p["undone"] == 0
    assert p["touch"] > 0 and p["pen"] > p["touch"] and p["erased"] < p["pen"]
    assert (p["all"], p["cleared"], p["bottom"], p["inverted"]) == (100, 0, 50, 50)
    assert report["invertedTop"] == [255, 0]
    assert p["undoPreset"] == 50 and p["top"] == 50
    assert report["preview"] is True

    # Price and button say when a mask is on.
    assert "with a mask" not in report["priceNoMask"] and report["buttonNoMask"] == "Generate"
    assert "with a mask" in report["priceMasked"]
    assert report["buttonMasked"] == "Generate with mask"
    assert "Charged 10 credits" in report["charged"]
    assert report["sentMask"] == "Mask sent with this generation"
    assert report["germanMask"] == "Maske"
    assert report["germanFromGenerations"] == "Aus meinen Generierungen"

    # What reached the provider: the face and the chained output as image[] parts, and
    # one mask at the face's prepared size with the top half transparent.
    [sent] = provider.requests
    assert sent.problems == []
    assert sent.body.count(b'name="image[]"') == 2
    assert sent.mask is not None
    mask = Image.open(io.BytesIO(sent.mask))
    assert mask.mode == "RGBA" and mask.size == (1024, 768)
    alpha = mask.getchannel("A")
    assert alpha.crop((0, 0, 1024, 380)).getextrema() == (0, 0)
    assert alpha.crop((0, 388, 1024, 768)).getextrema() == (255, 255)

    assert set(report["axe"]) == {"generate-mask", "generate-result-mask"}
    assert_accessible_and_fitting(report)
    assert len(report["shots"]) == 6
