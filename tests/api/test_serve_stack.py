"""`meimages serve` runs on uvloop and httptools, the fast event loop and HTTP parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testbed.server import LiveServer, start_server, subprocess_spawn


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server in an interpreter of its own: a forked one (tests/conftest.py) would map
    what its parent imported, so its maps would prove nothing."""
    server = start_server(tmp_path_factory.mktemp("stack"), spawn=subprocess_spawn())
    yield server
    server.stop()


def test_serve_loads_uvloop_and_httptools(fresh_server: LiveServer) -> None:
    response = httpx.get(f"{fresh_server.url}/healthz", timeout=30)
    assert response.status_code == 200
    # The extension modules mapped into the serving process are the proof.
    maps = Path(f"/proc/{fresh_server.pid}/maps").read_text()
    assert "/uvloop/loop." in maps
    assert "/httptools/parser/parser." in maps
