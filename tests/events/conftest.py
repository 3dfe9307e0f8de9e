"""Live `meimages serve` processes on loopback, for the subscription tests.

Each backend gets one server for the session (SQLite in a temporary folder, PostgreSQL
in a database of its own); tests add owners with fresh ids, so they never see each
other's events.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from api.auth import issue_token
from api.settings import Settings
from tests.conftest import BACKENDS
from tests.images import jpeg
from tests.pg import create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")

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


@dataclass
class LiveServer:
    """One `meimages serve` process and the secrets to call it as anyone."""

    proc: subprocess.Popen[bytes]
    port: int
    jwt_secret: str
    database_url: str
    backend: str
    output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=400))

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.http}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def token(self, user: str, space: str | None = None, ttl_s: int = 3600) -> str:
        return issue_token(Settings(jwt_secret=self.jwt_secret), user, space, ttl_s)

    def headers(self, user: str, space: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, space)}"}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _pump(proc: subprocess.Popen[bytes], output: collections.deque[str], port: list[int]) -> None:
    # Drains the server's output so it never blocks on a full pipe; finds the bound port.
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode(errors="replace").rstrip()
        output.append(line)
        if not port and (match := _RUNNING.search(line)):
            port.append(int(match.group(1)))


def start_server(
    data_dir: Path,
    database_url: str,
    backend: str,
    *,
    jwt_secret: str,
    master_key: str,
    env: dict[str, str] | None = None,
) -> LiveServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "MEIMAGES_DATA_DIR": str(data_dir),
        "MEIMAGES_DATABASE_URL": database_url,
        "MEIMAGES_JWT_SECRET": jwt_secret,
        "MEIMAGES_URL_SECRET": "url-" + jwt_secret,
        "MEIMAGES_MASTER_KEY": master_key,
        "MEIMAGES_HOST": "127.0.0.1",
        "MEIMAGES_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output: collections.deque[str] = collections.deque(maxlen=400)
    port: list[int] = []
    threading.Thread(target=_pump, args=(proc, output, port), daemon=True).start()
    deadline = time.monotonic() + 60
    while not port:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("meimages serve did not start:\n" + "\n".join(output))
        time.sleep(0.05)
    server = LiveServer(proc, port[0], jwt_secret, database_url, backend, output)
    while True:
        try:
            if httpx.get(f"{server.http}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("meimages serve is not healthy:\n" + "\n".join(output))
        time.sleep(0.05)


async def create_pg_database() -> str:
    return await create_database("meimages_events")


drop_pg_database = drop_database


@pytest.fixture(scope="session")
def live_secrets() -> tuple[str, str]:
    """JWT secret and master key shared by every instance of a test deployment."""
    master = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(32), master


@pytest.fixture(scope="session", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    live_secrets: tuple[str, str],
) -> Iterator[LiveServer]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"live-{backend}")
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'meimages.db'}"
    else:
        url = asyncio.run(create_pg_database())
    server = start_server(
        tmp / "data",
        url,
        backend,
        jwt_secret=live_secrets[0],
        master_key=live_secrets[1],
        env={"MEIMAGES_WS_INIT_TIMEOUT": "1.5"},
    )
    yield server
    server.stop()
    if backend == "postgres":
        asyncio.run(drop_pg_database(url))


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def gql(
    client: httpx.AsyncClient,
    server: LiveServer,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    user: str,
    space: str | None = None,
) -> dict[str, Any]:
    response = await client.post(
        server.graphql_url,
        json={"query": query, "variables": variables or {}},
        headers=server.headers(user, space),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


async def upload(
    client: httpx.AsyncClient,
    server: LiveServer,
    seed: int,
    *,
    user: str,
    space: str | None = None,
    input: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operations = {
        "query": "mutation($file: Upload!, $input: UploadMeImageInput) { uploadMeImage(file: $file, input: $input) { __typename ... on MeImage { "
        + IMAGE_FIELDS
        + " } ... on Error { code message } } }",
        "variables": {"file": None, "input": input},
    }
    response = await client.post(
        server.graphql_url,
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("photo.jpg", jpeg(seed), "image/jpeg")},
        headers={**server.headers(user, space), "GraphQL-Require-Preflight": "1"},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["data"]["uploadMeImage"]
    assert result["__typename"] == "MeImage", result
    return result


async def event_cursor(
    client: httpx.AsyncClient, server: LiveServer, *, user: str, space: str | None = None
) -> str:
    data = await gql(client, server, "{ meImageEventCursor }", user=user, space=space)
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
    data = await gql(
        client,
        server,
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
