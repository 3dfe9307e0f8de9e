"""The fork server the crash tests start their servers and commands from."""

from __future__ import annotations

import pytest

from testbed import forkserver
from testbed.forkserver import ForkServer


@pytest.fixture(scope="module")
def forks() -> ForkServer:
    """The worker's fork server (`forkserver.shared`, closed at exit): it imported the
    server once, and forks each process a test starts."""
    return forkserver.shared()
