"""A source server (SQLite, local folder, a stand-in image provider) and a target server
(PostgreSQL, S3 on moto) for the round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from api.settings import Settings
from tests.generation.provider_server import ProviderServer
from tests.support.app import Api, running_api
from tests.support.databases import sqlite_url, throwaway_database
from tests.support.s3 import S3Server

OPENAI_KEY = "sk-test-portability-key"


@pytest.fixture(scope="session")
def image_provider() -> Iterator[ProviderServer]:
    server = ProviderServer(openai_key=OPENAI_KEY, gemini_key="unused")
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def source(
    tmp_path_factory: pytest.TempPathFactory, image_provider: ProviderServer
) -> AsyncIterator[Api]:
    tmp = tmp_path_factory.mktemp("source")
    settings = Settings(
        data_dir=tmp,
        database_url=sqlite_url(tmp / "meimages.db"),
        openai_api_key=OPENAI_KEY,
        openai_base_url=image_provider.url,
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
