"""A server with a small pool cap, on SQLite and on PostgreSQL (a database of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from api.settings import Settings
from tests.support.app import Api, running_api
from tests.support.databases import BACKENDS, throwaway_database

CAP = 3


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=BACKENDS)
async def capped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"pool-cap-{backend}")
    async with throwaway_database(backend, tmp, "meimages_pool_cap") as url:
        settings = Settings(data_dir=tmp, database_url=url, pool_cap=CAP)
        async with running_api(settings, backend) as running:
            yield running
