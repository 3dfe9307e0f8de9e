"""Revocation across instances: two `meimages serve` processes on one PostgreSQL and one
media folder. A deletion or purge through one is seen by the very next request to the
other - no instance answers a revoked URL from memory, with a 200 or a 304."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from testbed.images import jpeg
from testbed.server import LiveServer, deployment_secrets
from tests.support.databases import postgres_database_sync
from tests.support.live import live_servers

FIELDS = (
    "__typename ... on MeImage { id publicUrl thumbnailUrl mediumUrl"
    " transformUrl(width: 80, height: 60, fit: COVER, format: JPEG) }"
    " ... on Error { code message }"
)
VARIANTS = ("publicUrl", "thumbnailUrl", "mediumUrl", "transformUrl")
DELETE = "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two instances sharing the database, the media folder and every secret."""
    tmp = tmp_path_factory.mktemp("two-instances")
    with postgres_database_sync("meimages_revoke") as url:
        shared = {
            **deployment_secrets(),
            "MEIMAGES_DATABASE_URL": url,
            "MEIMAGES_BLOB_DIR": str(tmp / "media"),
            "MEIMAGES_GC_INTERVAL": "0",
        }
        with live_servers(tmp, shared) as (a, b):
            yield a, b


async def upload(
    client: httpx.AsyncClient, server: LiveServer, seed: int, user: str
) -> dict[str, Any]:
    return await server.graphql(client).upload_image(jpeg(seed), user=user, fields=FIELDS)


async def delete(client: httpx.AsyncClient, server: LiveServer, image_id: str, user: str) -> None:
    data = await server.graphql(client).gql(DELETE, {"id": image_id}, user=user)
    assert data["deleteMeImage"]["__typename"] == "DeletedMeImage"


def at(server: LiveServer, url: str) -> str:
    """A media URL (absolute, naming the instance that answered) on `server` instead."""
    parts = urlsplit(url)
    return f"{server.url}{parts.path}?{parts.query}" if parts.query else server.url + parts.path


async def served(
    client: httpx.AsyncClient, servers: tuple[LiveServer, ...], image: dict[str, Any]
) -> dict[str, str]:
    """Every variant served (and revalidated with a 304) by every instance; the ETags."""
    tags = {}
    for server in servers:
        for name in VARIANTS:
            first = await client.get(at(server, image[name]))
            assert first.status_code == 200, (server.port, name, first.text)
            tags[name] = first.headers["etag"]
            again = await client.get(at(server, image[name]), headers={"If-None-Match": tags[name]})
            assert again.status_code == 304, (server.port, name)
    return tags


async def assert_revoked(
    client: httpx.AsyncClient,
    servers: tuple[LiveServer, ...],
    image: dict[str, Any],
    tags: dict[str, str],
) -> None:
    for server in servers:
        gone = await client.get(f"{server.url}/media/{uuid.uuid4()}/original")
        assert gone.status_code == 404
        for name in VARIANTS:
            for headers in ({}, {"If-None-Match": tags[name]}):
                response = await client.get(at(server, image[name]), headers=headers)
                assert response.status_code == 404, (server.port, name, headers)
                assert response.content == gone.content


async def test_deletion_on_one_instance_revokes_on_the_other(
    deployment: tuple[LiveServer, LiveServer], http: httpx.AsyncClient
) -> None:
    a, b = deployment
    owner = f"owner-{uuid.uuid4().hex[:12]}"
    first = await upload(http, a, 81, owner)
    second = await upload(http, b, 82, owner)
    first_tags = await served(http, (a, b), first)
    second_tags = await served(http, (b, a), second)

    await delete(http, a, first["id"], owner)
    await assert_revoked(http, (b, a), first, first_tags)
    assert await served(http, (b, a), second) == second_tags

    await delete(http, b, second["id"], owner)
    await assert_revoked(http, (a, b), second, second_tags)


def test_purging_an_owner_revokes_on_every_instance(
    deployment: tuple[LiveServer, LiveServer],
) -> None:
    a, b = deployment
    owner = f"owner-{uuid.uuid4().hex[:12]}"

    async def before() -> tuple[dict[str, Any], dict[str, str]]:
        async with httpx.AsyncClient(timeout=30) as client:
            image = await upload(client, a, 83, owner)
            return image, await served(client, (a, b), image)

    image, tags = asyncio.run(before())
    # The command line of the deployment: its database, media folder and secrets.
    done = a.cli("purge", "--user", owner, "--yes")
    assert done.returncode == 0, done.stderr
    assert f"purged owner {owner!r}: 1 images" in done.stdout

    async def after() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            await assert_revoked(client, (a, b), image, tags)

    asyncio.run(after())
