"""The web app as a person uses it: headless Chromium against a live server and the provider
test server — sign in by link, upload (with a GPS-tagged JPEG, a too-large file and a file
that is no image), consent, primary swap, global switch, edit, delete, a second live page,
generation with its charge and history, German, sign-out and an expired token; axe-core
on every page; screenshots at desktop width and at 375 px.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from schema.tokens import TOKEN_LEEWAY_S
from testbed.images import jpeg, png
from testbed.media_samples import jpeg_with_metadata
from testbed.server import LiveServer
from tests.support.provider_server import ProviderServer
from tests.webapp.web import (
    CHROMIUM,
    assert_accessible_and_fitting,
    ensure_web_modules,
    generating_server,
    run_browser_script,
    shots_folder,
)

MAX_UPLOAD = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider_server: ProviderServer
) -> Iterator[LiveServer]:
    live = generating_server(tmp_path_factory.mktemp("webapp"), provider_server)
    yield live
    live.stop()


def _files(folder: Path) -> dict[str, str]:
    face = jpeg(seed=21, size=(640, 800))
    files = {
        "gps": ("face-gps.jpg", jpeg_with_metadata("WEBAPP-CANARY")),
        "face2": ("face-2.jpg", jpeg(seed=22, size=(600, 800))),
        # A real JPEG padded past the limit (decoders ignore trailing bytes).
        "big": ("too-large.jpg", face + b"\0" * (MAX_UPLOAD + 100_000 - len(face))),
        "notImage": ("notes.jpg", b"these are my notes, not a photo\n" * 40),
        "reference": ("reference.png", png(seed=23, size=(500, 500))),
    }
    paths = {}
    for key, (name, data) in files.items():
        (folder / name).write_bytes(data)
        paths[key] = str(folder / name)
    return paths


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (CI installs Debian's chromium)")
def test_a_person_uses_the_web_app(server: LiveServer, tmp_path: Path) -> None:
    ensure_web_modules()
    owner = "webapp-person"
    granted = server.cli("credits", "grant", "--user", owner, "100")
    assert granted.returncode == 0, granted.stderr
    config = {
        "base": server.url,
        "token": server.token(owner),
        # Expired two minutes ago, past the token leeway (the CLI refuses to mint one).
        "expiredToken": server.token(owner, ttl_s=-120 - TOKEN_LEEWAY_S),
        "files": _files(tmp_path),
        "shots": str(shots_folder(tmp_path)),
    }
    report = run_browser_script("app_browser.cjs", config, tmp_path, timeout_s=1500)

    # Nothing from outside, nothing broken, nothing the CSP had to block.
    assert report["external"] == []
    assert report["failed"] == [] and report["pageErrors"] == [] and report["cspViolations"] == []
    assert report["signInTitle"] == "Sign in"
    assert "#token=" not in report["addressBar"]

    # Several files at once, each with its own verdict in words.
    uploads = {item["name"]: item for item in report["uploads"]}
    assert uploads["face-gps.jpg"]["status"] == "done"
    assert uploads["face-2.jpg"]["status"] == "done"
    assert uploads["too-large.jpg"]["status"] == "failed"
    assert "too large" in uploads["too-large.jpg"]["text"]
    assert uploads["notes.jpg"]["status"] == "failed"
    assert "not an image" in uploads["notes.jpg"]["text"]
    assert len(report["gridAfterUpload"]) == 3  # nothing half-added
    assert report["liveUploads"] == [card["id"] for card in report["gridAfterUpload"]]

    # Consent off by default, on by keyboard; primaries set and swapped; all seen live.
    assert report["toggleBefore"] == "false" and report["liveToggle"]
    ref, face2, gps = (card["id"] for card in report["gridAfterUpload"])
    assert report["faceSwapped"] == {"slot": face2, "gridHasOld": True}
    assert report["editedLabel"] == "studio light" and report["editedTags"] == ["beach", "summer"]
    assert report["pickerOn"] == [gps]
    assert report["pickerOff"] == 0 and "switched off" in report["pickerOffText"]
    assert report["deleted"] == ref and report["gridAfterDelete"] == [gps]

    # Generation: price before, charge after, an error in words, history with thumbnails.
    assert "Price: 3 credits" in report["priceBefore"] and "100" in report["priceBefore"]
    assert "Charged 3 credits" in report["charged"] and report["setupError"] is None
    assert "97" in report["balanceAfter"]
    assert report["outputAdded"]
    assert "Not enough credits" in report["generateError"]
    assert report["history"][0] == {
        "status": "SUCCEEDED",
        "refs": 1,
        "outputs": 1,
        "cost": "3 credits",
        "aiLabels": ["AI-generated"],
    }
    # Every output is labelled, with the credentials signed into its file.
    assert report["aiLabels"] == ["AI-generated"]
    assert report["credentials"].startswith("Signed by meimages (self-hosted) on ")

    assert report["germanTitle"] == "Meine Bilder"
    assert report["firstTab"] == "Skip to content"
    assert report["signedOut"] == "You are signed out."
    assert "expired" in report["expired"]

    # No serious or critical accessibility violation on any page or dialog.
    assert set(report["axe"]) >= {
        "sign-in",
        "my-images",
        "generate",
        "history",
        "edit-dialog",
        "confirm-dialog",
    }
    # Nothing sticks out sideways on a 375 px phone either.
    assert_accessible_and_fitting(report)

    # The GPS-tagged upload reached the server without its metadata.
    token = server.token(owner)
    answer = httpx.post(
        f"{server.url}/graphql",
        json={
            "query": "query($id: ID!) { meImage(id: $id) { publicUrl } }",
            "variables": {"id": gps},
        },
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    original = httpx.get(answer["data"]["meImage"]["publicUrl"]).content
    with Image.open(io.BytesIO(original)) as image:
        assert not image.getexif() and "exif" not in image.info
    assert b"WEBAPP-CANARY" not in original
