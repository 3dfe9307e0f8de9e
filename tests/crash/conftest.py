"""The fork server the crash tests start their servers and commands from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.forkserver import ForkServer


@pytest.fixture(scope="module")
def forks() -> Iterator[ForkServer]:
    """One per module: it imports the server once, then forks each process it starts."""
    server = ForkServer()
    yield server
    server.close()
