"""Live `meimages serve` processes on loopback, for the subscription tests.

Each backend gets one server for the session (SQLite in a temporary folder, PostgreSQL
in a database of its own); tests add owners with fresh ids, so they never see each
other's events.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from testbed.images import jpeg
from testbed.server import LiveServer, deployment_secrets, start_server
from tests.support.databases import BACKENDS, create_database, drop_database, sqlite_url

IMAGE_FIELDS = "id kind label tags primaryFor usage { aiReference showInProfile } updatedAt"
EVENT_FIELDS = f"""
  __typename
  ... on MeImageEvent {{
    type imageId kind slot previousSlot enabled changedFields occurredAt cursor
    image {{ {IMAGE_FIELDS} }}
  }}
  ... on Error {{ code message }}
"""
SUBSCRIPTION = (
    f"subscription($after: String) {{ meImageEvents(after: $after) {{ {EVENT_FIELDS} }} }}"
)


@pytest.fixture(scope="session")
def live_secrets() -> dict[str, str]:
    """The secrets every instance of the test deployment shares."""
    return deployment_secrets()


@pytest.fixture(scope="session", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    live_secrets: dict[str, str],
) -> Iterator[LiveServer]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"live-{backend}")
    if backend == "sqlite":
        url = sqlite_url(tmp / "meimages.db")
    else:
        url = asyncio.run(create_database("meimages_events"))
    # The default WebSocket initialisation timeout: every client here, npm ones included,
    # has all the time a slow machine needs (`quick_to_close` tests the timeout itself).
    server = start_server(tmp / "data", {**live_secrets, "MEIMAGES_DATABASE_URL": url})
    yield server
    server.stop()
    if backend == "postgres":
        asyncio.run(drop_database(url))


@pytest.fixture(scope="session")
def quick_to_close(
    tmp_path_factory: pytest.TempPathFactory, live_secrets: dict[str, str]
) -> Iterator[LiveServer]:
    """A server that closes a WebSocket not initialised within 0.5 s (nothing else runs
    against it: a connection that never initialises is closed however slow the machine)."""
    tmp = tmp_path_factory.mktemp("live-quick-to-close")
    server = start_server(tmp / "data", {**live_secrets, "MEIMAGES_WS_INIT_TIMEOUT": "0.5"})
    yield server
    server.stop()


async def upload(
    client: httpx.AsyncClient,
    server: LiveServer,
    seed: int,
    *,
    user: str,
    space: str | None = None,
    input: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new image (a photo made from `seed`) with the fields the events carry."""
    fields = f"__typename ... on MeImage {{ {IMAGE_FIELDS} }} ... on Error {{ code message }}"
    return await server.graphql(client).upload_image(
        jpeg(seed), user=user, space=space, input=input, fields=fields
    )


async def event_cursor(
    client: httpx.AsyncClient, server: LiveServer, *, user: str, space: str | None = None
) -> str:
    data = await server.graphql(client).gql("{ meImageEventCursor }", user=user, space=space)
    return str(data["meImageEventCursor"])


async def set_ai(
    client: httpx.AsyncClient,
    server: LiveServer,
    image_id: str,
    enabled: bool,
    *,
    user: str,
    space: str | None = None,
) -> None:
    data = await server.graphql(client).gql(
        "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on) { __typename } }",
        {"id": image_id, "on": enabled},
        user=user,
        space=space,
    )
    assert data["setAiReferenceEnabled"]["__typename"] == "MeImage"


def new_owner(prefix: str = "owner") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Subscriber:
    """A Python `gql` client (websockets transport) collecting events in the background."""

    def __init__(self, server: LiveServer, user: str, space: str | None = None, **transport: Any):
        self.transport = WebsocketsTransport(
            url=server.ws_url,
            init_payload={"Authorization": f"Bearer {server.token(user, space)}"},
            **transport,
        )
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self, after: str | None) -> None:
        ready = asyncio.Event()

        async def run() -> None:
            async with Client(transport=self.transport) as session:
                ready.set()
                request = GraphQLRequest(SUBSCRIPTION, variable_values={"after": after})
                async for result in session.subscribe(request):
                    async with self._arrived:
                        self.events.append(result["meImageEvents"])
                        self._arrived.notify_all()

        self._task = asyncio.create_task(run())
        await asyncio.wait_for(ready.wait(), 60)

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(60), self._arrived:
            await self._arrived.wait_for(lambda: len(self.events) >= count)
        return self.events

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
