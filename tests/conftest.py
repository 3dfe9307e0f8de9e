"""Shared fixtures: every storage and API test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from api.settings import Settings
from testbed import forkserver
from testbed.forkserver import ForkServer
from testbed.server import LiveServer, fork_by_default, start_server
from tests.support.app import Api, running_api
from tests.support.databases import BACKENDS, database_url, postgres_database_sync
from tests.support.provider_server import GEMINI_KEY, OPENAI_KEY, ProviderServer
from tests.support.s3 import S3Server, s3_server

# The files that take minutes, longest first (`scripts/test --durations=80` sums them).
# `scripts/test` hands whole files to its two workers in collection order: a long file
# handed out last keeps one worker busy after the other has finished, so these go first.
LONGEST_FILES = (
    "tests/test_benchmarks_run.py",
    "tests/crash/test_crash_uploads.py",
    "tests/attack/test_fuzz.py",
    "tests/test_cli.py",
    "tests/observability/test_metrics.py",
    "tests/attack/test_tenant_sweep.py",
    "tests/operations/test_backup_restore.py",
    "tests/api/test_workers.py",
    "tests/media/test_cli_and_migration.py",
    "tests/crash/test_crash_conversion.py",
    "tests/mcp/test_stdio.py",
    "tests/webapp/test_build.py",
    "tests/webapp/test_lighthouse.py",
    "tests/events/test_clients.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # Live servers are forked from one pre-imported server per worker process
    # (testbed/forkserver.py): the same `meimages serve` entry, minus a second or two of
    # imports per start. Tests about the process itself start theirs as a subprocess.
    fork_by_default()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first, then the rest by their number of tests, most first
    (pytest-xdist's own order, which `scripts/test` turns off for this one)."""
    root = config.rootpath
    renamed = [name for name in LONGEST_FILES if not (root / name).is_file()]
    if renamed:  # it would drop out of the head of the queue unnoticed
        raise pytest.UsageError(f"LONGEST_FILES names files that are gone: {renamed}")
    rank = {name: place for place, name in enumerate(LONGEST_FILES)}
    files = {item: item.path.relative_to(root).as_posix() for item in items}
    tests = Counter(files.values())
    items.sort(key=lambda item: (rank.get(files[item], len(rank)), -tests[files[item]]))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    with postgres_database_sync() as url:
        yield url


@pytest.fixture(scope="session")
def forks() -> ForkServer:
    """The worker's fork server (`forkserver.shared`, closed at exit), for tests that start
    servers and commands of their own from it (crash, operations): it imported the server
    once, and forks each process a test starts."""
    return forkserver.shared()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A `meimages serve` of the module's own on the embedded setup (SQLite, local folder)."""
    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for calling live servers."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def provider_server() -> Iterator[ProviderServer]:
    """The one stand-in image provider of the run (tests/support/provider_server.py)."""
    server = ProviderServer(openai_key=OPENAI_KEY, gemini_key=GEMINI_KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def provider(provider_server: ProviderServer) -> Iterator[ProviderServer]:
    """The provider test server, in its default mode and with no requests recorded."""
    provider_server.reset()
    yield provider_server
    provider_server.reset()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """One moto S3 server on loopback for the session; tests make buckets of their own."""
    with s3_server() as server:
        yield server


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=BACKENDS)
async def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_database: str
) -> AsyncIterator[Api]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"api-{backend}")
    settings = Settings(data_dir=tmp, database_url=database_url(backend, tmp, pg_database))
    async with running_api(settings, backend) as running:
        yield running


@pytest.fixture
def owner() -> str:
    return f"owner-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_owner() -> str:
    return f"other-{uuid.uuid4().hex[:12]}"
