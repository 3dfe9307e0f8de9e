"""A live `meimages serve` per database, its generation pointed at the provider test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.server import LiveServer
from tests.mcp.agent import GEMINI_KEY, OPENAI_KEY
from tests.support.databases import BACKENDS
from tests.support.live import live_server_on
from tests.support.provider_server import ProviderServer


@pytest.fixture(scope="module", params=BACKENDS)
def mcp_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    provider_server: ProviderServer,
) -> Iterator[LiveServer]:
    """`meimages serve` on SQLite or on a PostgreSQL database of its own."""
    backend: str = request.param
    settings = {
        "MEIMAGES_OPENAI_API_KEY": OPENAI_KEY,
        "MEIMAGES_OPENAI_BASE_URL": provider_server.url,
        "MEIMAGES_GEMINI_API_KEY": GEMINI_KEY,
        "MEIMAGES_GEMINI_BASE_URL": provider_server.url,
        "MEIMAGES_GENERATION_TIMEOUT": "30",
    }
    data_dir = tmp_path_factory.mktemp(f"mcp-{backend}")
    with live_server_on(backend, data_dir, settings, "meimages_mcp") as server:
        yield server
