"""Shared fixtures: every storage and API test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from storage import migrate
from tests.pg import create_database, drop_database

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    url = asyncio.run(create_database())
    yield url
    asyncio.run(drop_database(url))


def database_url(backend: str, tmp: Path, pg_database: str) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'meimages.db'}"
    return pg_database


@dataclass
class Api:
    """A running app (in-process ASGI) and a way to call it as any owner."""

    app: Starlette
    client: httpx.AsyncClient
    settings: Settings
    backend: str

    def token(self, user: str, space: str | None = None, ttl_s: int = 3600) -> str:
        return issue_token(self.app.state.server.settings, user, space, ttl_s)

    def headers(self, user: str, space: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, space)}"}

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user: str,
        space: str | None = None,
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=self.headers(user, space),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    async def upload(
        self,
        data: bytes,
        *,
        user: str,
        space: str | None = None,
        input: dict[str, Any] | None = None,
        filename: str = "photo.jpg",
        content_type: str = "image/jpeg",
        fields: str = "__typename ... on MeImage { id mediaId storagePath kind label tags width height primaryFor publicUrl thumbnailUrl contentType usage { aiReference showInProfile } } ... on Error { code message }",
    ) -> dict[str, Any]:
        import json

        operations = {
            "query": "mutation($file: Upload!, $input: UploadMeImageInput) { uploadMeImage(file: $file, input: $input) { "
            + fields
            + " } }",
            "variables": {"file": None, "input": input},
        }
        response = await self.client.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": (filename, data, content_type)},
            headers={**self.headers(user, space), "GraphQL-Require-Preflight": "1"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]["uploadMeImage"]  # type: ignore[no-any-return]


async def start_api(settings: Settings, backend: str) -> tuple[Starlette, httpx.AsyncClient]:
    app = create_app(settings)
    await migrate.upgrade(app.state.server.stores.db)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    return app, client


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=BACKENDS)
async def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_database: str
) -> AsyncIterator[Api]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"api-{backend}")
    settings = Settings(data_dir=tmp, database_url=database_url(backend, tmp, pg_database))
    app, client = await start_api(settings, backend)
    yield Api(app=app, client=client, settings=settings, backend=backend)
    await client.aclose()
    await app.state.server.stores.db.dispose()


@pytest.fixture
def owner() -> str:
    return f"owner-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_owner() -> str:
    return f"other-{uuid.uuid4().hex[:12]}"
