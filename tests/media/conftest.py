"""Media tests run on both blob backends (local folder, S3 protocol) and both databases.

The S3 backend talks to a real S3-protocol server on loopback (the session's moto
server). Each PostgreSQL combination gets a database of its own: the blob registry
assumes one database per blob store, and purge/GC tests act on every owner in it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from api.settings import Settings
from tests.support.app import Api, running_api
from tests.support.databases import throwaway_database
from tests.support.s3 import S3Server

COMBINATIONS = [
    ("sqlite", "local"),
    ("postgres", "s3"),
    ("sqlite", "s3"),
    ("postgres", "local"),
]


@pytest_asyncio.fixture(
    scope="session",
    loop_scope="session",
    params=COMBINATIONS,
    ids=[f"{db}-{blobs}" for db, blobs in COMBINATIONS],
)
async def mapi(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3: S3Server
) -> AsyncIterator[Api]:
    backend, blobs = request.param
    tmp = tmp_path_factory.mktemp(f"media-{backend}-{blobs}")
    blob_settings = s3.blob_settings(s3.new_bucket()) if blobs == "s3" else {}
    async with throwaway_database(backend, tmp, "meimages_media") as url:
        settings = Settings(data_dir=tmp, database_url=url, **blob_settings)
        async with running_api(settings, backend, blobs) as running:
            yield running
