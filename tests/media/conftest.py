"""Media tests run on both blob backends (local folder, S3 protocol) and both databases.

The S3 backend talks to a real S3-protocol server on loopback: moto's server mode,
started once for the session on a free port. No credentials leave the machine.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
import pytest_asyncio
from moto.server import ThreadedMotoServer

from api.settings import Settings
from resolvers.stores import Stores
from storage.blobs import BlobStore
from tests.conftest import Api, start_api
from tests.pg import create_database, drop_database

S3_KEY_ID, S3_SECRET = "meimages-test", "meimages-test-secret"
COMBINATIONS = [
    ("sqlite", "local"),
    ("postgres", "s3"),
    ("sqlite", "s3"),
    ("postgres", "local"),
]


@dataclass
class S3Server:
    endpoint: str

    def new_bucket(self) -> str:
        name = f"media-{uuid.uuid4().hex[:12]}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=name)
        return name

    def blob_url(self, bucket: str, prefix: str = "media") -> str:
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1"


async def create_pg_database() -> tuple[str, str]:
    """A PostgreSQL database of our own: the blob registry assumes one database per blob
    store, and purge/GC tests act on every owner in it. Returns (name, url)."""
    url = await create_database("meimages_media")
    return url.rsplit("/", 1)[-1], url


drop_pg_database = drop_database


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Server(f"http://{host}:{port}")
    server.stop()


def blob_settings(blobs: str, s3: S3Server, **extra: Any) -> dict[str, Any]:
    if blobs == "local":
        return extra
    return {
        "blob_url": s3.blob_url(s3.new_bucket()),
        "s3_access_key_id": S3_KEY_ID,
        "s3_secret_access_key": S3_SECRET,
        **extra,
    }


@dataclass
class MediaApi(Api):
    blobs_kind: str = "local"

    @property
    def stores(self) -> Stores:
        return self.app.state.server.stores  # type: ignore[no-any-return]

    @property
    def blob_store(self) -> BlobStore:
        return self.stores.blobs

    async def blob_keys(self) -> set[str]:
        return {info.key async for info in self.blob_store.list_blobs()}

    async def rest_upload(
        self,
        data: bytes,
        *,
        user: str,
        filename: str = "photo.jpg",
        content_type: str = "image/jpeg",
    ) -> httpx.Response:
        return await self.client.post(
            "/api/v1/profile/me-images/upload",
            files={"file": (filename, data, content_type)},
            headers=self.headers(user),
        )


@pytest_asyncio.fixture(
    scope="session",
    loop_scope="session",
    params=COMBINATIONS,
    ids=[f"{db}-{blobs}" for db, blobs in COMBINATIONS],
)
async def mapi(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    s3_server: S3Server,
) -> AsyncIterator[MediaApi]:
    backend, blobs = request.param
    tmp = tmp_path_factory.mktemp(f"media-{backend}-{blobs}")
    pg_name, url = await create_pg_database() if backend == "postgres" else ("", "")
    settings = Settings(
        data_dir=tmp,
        database_url=url or f"sqlite+aiosqlite:///{tmp / 'meimages.db'}",
        **blob_settings(blobs, s3_server),
    )
    app, client = await start_api(settings, backend)
    yield MediaApi(app=app, client=client, settings=settings, backend=backend, blobs_kind=blobs)
    await client.aclose()
    await app.state.server.stores.blobs.close()
    await app.state.server.stores.db.dispose()
    if pg_name:
        await drop_pg_database(pg_name)
