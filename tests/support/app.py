"""The app in process: `create_app` behind an httpx ASGI client, callable as any owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import select
from sqlmodel import col
from starlette.applications import Starlette

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from resolvers.stores import Stores
from storage import migrate
from storage.blobs import BlobStore
from storage.tables import MediaObject, MediaVariant
from testbed.graphql import GraphQLClient

BASE_URL = "http://testserver"
REST_UPLOAD = "/api/v1/profile/me-images/upload"


class Api(GraphQLClient):
    """A migrated app on one database and blob store, callable as any owner (`gql`,
    `upload`, `headers` and the rest of the GraphQL client)."""

    def __init__(
        self,
        app: Starlette,
        client: httpx.AsyncClient,
        settings: Settings,
        backend: str,
        blobs_kind: str = "local",
    ) -> None:
        super().__init__(client, f"{BASE_URL}/graphql", self.token)
        self.app = app
        self.client = client
        self.settings = settings
        self.backend = backend
        self.blobs_kind = blobs_kind

    @property
    def stores(self) -> Stores:
        return self.app.state.server.stores  # type: ignore[no-any-return]

    @property
    def blob_store(self) -> BlobStore:
        return self.stores.blobs

    def token(self, user: str, space: str | None = None, ttl_s: int = 3600) -> str:
        return issue_token(self.app.state.server.settings, user, space, ttl_s)

    async def rest_upload(
        self,
        data: bytes,
        *,
        user: str,
        filename: str = "photo.jpg",
        content_type: str = "image/jpeg",
    ) -> httpx.Response:
        return await self.client.post(
            REST_UPLOAD, files={"file": (filename, data, content_type)}, headers=self.headers(user)
        )

    async def blob_keys(self) -> set[str]:
        return {info.key async for info in self.blob_store.list_blobs()}

    async def rendition_keys(self, storage_path: str, *, variants: bool = False) -> list[str]:
        """The stored names of an image's original, thumbnail and medium rendition (keyed
        names: the other two cannot be told from the first), and with `variants` those of
        its cached transforms."""
        query = select(MediaObject).where(col(MediaObject.storage_path) == storage_path)
        async with self.stores.db.session() as session:
            obj = (await session.execute(query)).scalar_one()
            keys = [obj.storage_path, obj.thumbnail_path, obj.medium_path or ""]
            if variants:
                cached = select(col(MediaVariant.storage_path)).where(
                    col(MediaVariant.media_object_id) == obj.id
                )
                keys += list((await session.execute(cached)).scalars())
        return keys

    async def opened(self, owner: str, key: str) -> bytes | None:
        """A stored object of `owner` in plaintext, read as the server reads it."""
        return await self.stores.sealed.get(owner, key)


@asynccontextmanager
async def running_api(
    settings: Settings, backend: str, blobs_kind: str = "local"
) -> AsyncIterator[Api]:
    """The app on `settings`, migrated to the latest schema; closed afterwards."""
    app = create_app(settings)
    await migrate.upgrade(app.state.server.stores.db)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
    try:
        yield Api(app, client, settings, backend, blobs_kind)
    finally:
        await client.aclose()
        await app.state.server.stores.blobs.close()
        await app.state.server.stores.db.dispose()
