"""Each operations test runs on the embedded default and on PostgreSQL + S3."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from testbed.forkserver import ForkServer
from testbed.server import LiveServer
from tests.operations.deployments import DEPLOYMENTS, Deployments


@pytest_asyncio.fixture(params=DEPLOYMENTS)
async def deployments(
    request: pytest.FixtureRequest, tmp_path: Path, forks: ForkServer
) -> AsyncIterator[Deployments]:
    kind: str = request.param
    s3 = request.getfixturevalue("s3") if kind == "postgres-s3" else None
    made = Deployments(kind, tmp_path, s3, forks)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def serving() -> Iterator[list[LiveServer]]:
    """Servers a test started; each is stopped at the end, whatever happened."""
    started: list[LiveServer] = []
    yield started
    for server in started:
        server.stop()
