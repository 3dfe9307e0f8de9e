"""A source server (SQLite, local folder, a stand-in image provider) and a target server
(PostgreSQL, S3 on moto) for the round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from api.settings import Settings
from tests.support.app import Api, running_api
from tests.support.databases import sqlite_url, throwaway_database
from tests.support.provider_server import OPENAI_KEY, ProviderServer
from tests.support.s3 import S3Server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def source(
    tmp_path_factory: pytest.TempPathFactory, provider_server: ProviderServer
) -> AsyncIterator[Api]:
    tmp = tmp_path_factory.mktemp("source")
    settings = Settings(
        data_dir=tmp,
        database_url=sqlite_url(tmp / "meimages.db"),
        openai_api_key=OPENAI_KEY,
        openai_base_url=provider_server.url,
    )
    async with running_api(settings, "sqlite") as running:
        yield running


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def target(tmp_path_factory: pytest.TempPathFactory, s3: S3Server) -> AsyncIterator[Api]:
    tmp = tmp_path_factory.mktemp("target")
    async with throwaway_database("postgres", tmp, prefix="meimages_port") as url:
        settings = Settings(
            data_dir=tmp, database_url=url, **s3.blob_settings(s3.new_bucket("port"))
        )
        async with running_api(settings, "postgres", "s3") as running:
            yield running
