"""Fixtures of the fault tests: the provider test server (as in tests/generation)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.generation.conftest import GEMINI_KEY, OPENAI_KEY
from tests.generation.provider_server import ProviderServer


@pytest.fixture(scope="session")
def provider_server() -> Iterator[ProviderServer]:
    server = ProviderServer(openai_key=OPENAI_KEY, gemini_key=GEMINI_KEY)
    server.start()
    yield server
    server.stop()
