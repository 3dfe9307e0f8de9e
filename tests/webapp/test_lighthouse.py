"""Lighthouse on every page of the web app (signed in, with a photo in the pool, and the
sign-in page): accessibility and best practices at least 95 each.

Lighthouse is the bench's own dependency (`bench/webapp`); the test installs it there
(`npm ci`) when it is missing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.webapp import CHROME_FLAGS, install_lighthouse
from testbed.images import jpeg
from testbed.server import LiveServer, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = {
    "sign-in": "/",
    "images": "/",
    "generate": "/generate",
    "history": "/history",
    "data": "/data",
}
OWNER = "lighthouse-person"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("lighthouse"))
    yield live
    live.stop()


async def _seed(server: LiveServer) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        await server.graphql(http).upload_image(jpeg(seed=71), user=OWNER, input={"kind": "FACE"})


def _lighthouse(lighthouse: Path, urls: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    """Lighthouse on `urls`, one after the other in one Chromium (tests/webapp/lighthouse.mjs:
    each page from a new tab with the origin's storage cleared), its reports in `folder`."""
    (folder / "profile").mkdir(parents=True)
    config = {
        "modules": str(lighthouse.parents[2]),  # node_modules/lighthouse/cli/index.js
        "chromium": CHROMIUM,
        "chromeFlags": CHROME_FLAGS.split(),
        "profile": str(folder / "profile"),
        "categories": ["accessibility", "best-practices"],
        "pages": urls,
        "reports": str(folder),
    }
    (folder / "lighthouse.json").write_text(json.dumps(config))
    return subprocess.Popen(
        ["node", str(Path(__file__).parent / "lighthouse.mjs"), str(folder / "lighthouse.json")],
        env={"CHROME_PATH": str(CHROMIUM), "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )


def _scores(lighthouse: Path, urls: dict[str, str], tmp: Path) -> dict[str, dict[str, int]]:
    """Lighthouse's scores of each page. Two Chromiums, each auditing every other page: a
    page spends most of its audit waiting for the network and the CPU to go quiet, and
    each Chromium has storage of its own to clear for the next page."""
    names = list(urls)
    runs = {tmp / f"lighthouse-{n}": {name: urls[name] for name in names[n::2]} for n in range(2)}
    started = [_lighthouse(lighthouse, pages, folder) for folder, pages in runs.items()]
    try:
        for process in started:
            process.wait(timeout=600)
    finally:
        for process in started:  # those still running after a timeout or a failure
            process.kill()
            process.wait()
    assert [process.returncode for process in started] == [0, 0]
    scores = {}
    for folder, pages in runs.items():
        for name in pages:
            categories = json.loads((folder / f"{name}.json").read_text())["categories"]
            scores[name] = {key: round(c["score"] * 100) for key, c in categories.items()}
    return {name: scores[name] for name in names}


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium")
def test_every_page_scores_at_least_95(server: LiveServer, tmp_path: Path) -> None:
    lighthouse = install_lighthouse()
    asyncio.run(_seed(server))
    token = server.token(OWNER)
    urls = {
        name: f"{server.url}{path}" if name == "sign-in" else f"{server.url}{path}#token={token}"
        for name, path in PAGES.items()
    }
    scores = _scores(lighthouse, urls, tmp_path)
    print(json.dumps(scores))
    low = {
        name: page
        for name, page in scores.items()
        if page["accessibility"] < 95 or page["best-practices"] < 95
    }
    assert low == {}, scores
