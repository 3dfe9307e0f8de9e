"""`meimages serve` runs on uvloop and httptools, the fast event loop and HTTP parser."""

from __future__ import annotations

from pathlib import Path

import httpx

from testbed.server import LiveServer


def test_serve_loads_uvloop_and_httptools(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/healthz", timeout=30)
    assert response.status_code == 200
    # The extension modules mapped into the serving process are the proof.
    maps = Path(f"/proc/{live_server.pid}/maps").read_text()
    assert "/uvloop/loop." in maps
    assert "/httptools/parser/parser." in maps
