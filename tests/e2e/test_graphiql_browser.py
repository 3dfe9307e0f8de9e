"""GraphiQL works offline: a real browser loads it from our server only and runs operations."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from testbed.server import LiveServer
from tests.support.node import ROOT, ensure_node_modules

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (CI installs Debian's chromium)")
def test_graphiql_runs_queries_and_mutations_offline(live_server: LiveServer) -> None:
    ensure_node_modules()
    token = live_server.token("browser-user")
    done = subprocess.run(
        [
            "node",
            str(ROOT / "tests/e2e/graphiql_browser.cjs"),
            live_server.url,
            token,
            str(CHROMIUM),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the browser script failed:\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout)
    assert report["external"] == []  # no CDN, no fonts, nothing from outside
    assert report["failed"] == [] and report["pageErrors"] == []
    assert "#token=" not in report["addressBar"]  # the token left the address bar
    # A first visit opens with this server's own first steps, not GraphiQL's generic comment.
    assert report["opened"].startswith("# meimages: your pool of reference images")
    assert "query MyPool {" in report["opened"] and "Welcome to GraphiQL" not in report["opened"]
    query, mutation = report["results"]
    assert query == {
        "data": {
            "profile": {"ownerId": "browser-user", "aiUsesReferenceImages": True},
            "meImages": [],
        }
    }
    assert mutation == {"data": {"setAiUsesReferenceImages": {"aiUsesReferenceImages": False}}}
