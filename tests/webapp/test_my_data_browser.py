"""The person's rights, usable in the browser: headless Chromium against a live server with
no image provider. The global switch reaches a second tab live and pauses every per-image
switch; the Generate page says first that no provider is set up and why its button is off;
consent until a date and the usage ledger per image; the My data page downloads, imports
(refusing an archive already imported, by name), sets allowed providers and deletes
everything (the app signs out and says so). English and German, desktop and 375 px, axe on
every page and state; screenshots go to MEIMAGES_WEBAPP_SHOTS when set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from testbed.images import jpeg
from testbed.server import LiveServer, start_server
from tests.webapp.web import (
    CHROMIUM,
    assert_accessible_and_fitting,
    ensure_web_modules,
    run_browser_script,
    shots_folder,
)

OWNER, FRIEND = "rights-person", "rights-friend"
SET_AI = "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }"
POOL = "{ meImages { id } profile { aiUsesReferenceImages allowedProviders } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("rights"))
    yield live
    live.stop()


async def _seed(server: LiveServer) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        client = server.graphql(http)
        first = await client.upload_image(jpeg(seed=61), user=OWNER, input={"kind": "FACE"})
        await client.upload_image(jpeg(seed=62), user=OWNER, input={"kind": "FACE"})
        await client.gql(SET_AI, {"id": first["id"]}, user=OWNER)
        await client.upload_image(jpeg(seed=63), user=FRIEND, input={"kind": "HANDS"})


def _export(server: LiveServer, user: str, path: Path) -> str:
    done = server.cli("export", "--user", user, "--output", str(path))
    assert done.returncode == 0, done.stderr
    return str(path)


def _state(server: LiveServer, user: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{server.url}/graphql",
        json={"query": POOL},
        headers={"Authorization": f"Bearer {server.token(user)}"},
    ).json()
    data: dict[str, Any] = answer["data"]
    return data


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (CI installs Debian's chromium)")
def test_a_person_uses_every_right_in_the_browser(server: LiveServer, tmp_path: Path) -> None:
    ensure_web_modules()
    asyncio.run(_seed(server))
    with ThreadPoolExecutor() as exports:  # two `meimages export` processes side by side
        own = exports.submit(_export, server, OWNER, tmp_path / "mine.zip")
        other = exports.submit(_export, server, FRIEND, tmp_path / "friend.zip")
        files = {"own": own.result(), "other": other.result()}
    config = {
        "base": server.url,
        "token": server.token(OWNER),
        "files": files,
        "shots": str(shots_folder(tmp_path)),
    }
    report = run_browser_script("my_data_browser.cjs", config, tmp_path, timeout_s=1500)
    texts = report["texts"]

    assert report["external"] == [] and report["pageErrors"] == []
    assert report["failed"] == []
    # Switches named by kind and place; the long explanation once per page, not per card.
    assert report["switchNames"] == ["AI may use “Face 2”", "AI may use “Face 1”"]
    assert report["perCardHelp"] == 0
    # No provider: said first, for the person and the operator; the button says why it is off.
    assert "No image provider is set up" in texts["noProvider"]
    assert "MEIMAGES_OPENAI_API_KEY" in texts["noProvider"]
    assert texts["whyOff"] == "Generate is off: no image provider is set up on this server."
    # The global switch: the other tab's picker follows live; opted-in switches show paused.
    assert "switched off" in texts["pickerOff"]
    assert (
        report["pausedSwitches"] == 1 and "Your per-photo choices are kept" in texts["pausedLine"]
    )
    assert report["pickerBack"] == 1
    # Consent until a date, then open-ended again.
    assert texts["until"].startswith("Until ")
    # My data.
    assert report["deleteDisabled"] and "DELETE MY DATA" in texts["deleteWhy"]
    assert texts["exportLink"].startswith("Download the zip (")
    assert report["exportHref"].startswith(f"{server.url}/exports/")
    assert texts["providersSaved"].startswith("Saved")
    assert texts["imported"] == (
        "1 photos imported into the space “personal”; AI use is off for each of them."
    )
    assert "“mine.zip” is already imported into the space “personal”" in texts["already"]
    # German.
    assert texts["deTitle"] == "Meine Daten" and "DELETE MY DATA" in texts["deDelete"]
    assert "kein Bildanbieter eingerichtet" in texts["deNoProvider"]
    assert "Es wird zum Avatar" in texts["deAvatarHelp"]
    assert "An: Fotos, die du einzeln eingeschaltet hast" in texts["deGlobalHelp"]
    assert texts["standIn"] == "No avatar of its own: your face reference stands in for it."
    # Delete everything: refused until the phrase is exact, then gone and signed out.
    assert report["deleteDisabledWrong"] is True
    assert "Everything of yours was deleted" in texts["deleted"]
    state = _state(server, OWNER)
    assert state["meImages"] == []
    assert len(_state(server, FRIEND)["meImages"]) == 1

    # No serious or critical accessibility violation on any page or state.
    assert set(report["axe"]) >= {
        "generate-no-provider",
        "images-paused",
        "details",
        "images",
        "data",
        "data-done",
        "data-de",
        "generate-de",
        "images-de",
        "images-stand-in",
        "signed-out-deleted",
    }
    assert_accessible_and_fitting(report)
