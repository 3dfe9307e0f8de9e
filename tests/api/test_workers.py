"""`meimages serve --workers N`: one port, several processes, one consistent server.

A real two-worker server on loopback against PostgreSQL. Which worker serves a
connection is read from the kernel (/proc: the worker holding the accepted socket), so
every check is made on each worker by name, never by chance: a write through one worker
is read by every worker, each of which had the old answer cached; a subscriber on each
worker receives every event, once and in order, whichever worker took the write; SIGTERM
ends every worker; a worker that dies is replaced. On SQLite the command refuses, saying
why.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection

from testbed.graphql import bearer, data_of, operation, upload_form, upload_result
from testbed.images import jpeg
from testbed.server import (
    MEIMAGES,
    ROOT,
    LiveServer,
    Subprocess,
    clean_environment,
    deployment_secrets,
    start_server,
)
from testbed.wire import init, receive, subscribe, ws_connection
from tests.support.databases import postgres_database

WORKERS = 2
# Safety nets against a hang, never verdicts: connections opened until every worker has
# one, polls (0.1 s apart) for a process to appear or end, seconds for one message.
CONNECTION_ATTEMPTS = 1200
PROCESS_POLLS = 600
MESSAGE_BOUND_S = 30.0

LIST = "{ meImages { id label usage { aiReference } } }"
UPDATE = (
    "mutation($id: ID!, $label: String) { updateMeImage(id: $id, input: {label: $label})"
    " { __typename ... on Error { code } } }"
)
TOGGLE = (
    "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on)"
    " { __typename ... on Error { code } } }"
)
EVENTS = (
    "subscription { meImageEvents { __typename"
    " ... on MeImageEvent { type imageId cursor } ... on Error { code } } }"
)


def _settings(database_url: str) -> dict[str, str]:
    return {
        **deployment_secrets(),
        "MEIMAGES_DATABASE_URL": database_url,
        "MEIMAGES_RATE_REQUESTS_PER_SECOND": "0",
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def database() -> AsyncIterator[str]:
    async with postgres_database("meimages_workers") as url:
        yield url


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("workers"), _settings(database), workers=WORKERS)
    yield live
    live.stop()


ESTABLISHED = "01"  # the `st` column of /proc/net/tcp


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def serving_worker(server: LiveServer, client_port: int) -> int:
    """The worker holding the server end of the loopback connection from `client_port`."""
    inodes = [
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if _port(fields[1]) == server.port
        and _port(fields[2]) == client_port
        # Established, so an earlier connection from the same port, closed and now in
        # TIME_WAIT (owned by no process: inode 0), is not mistaken for this one.
        and fields[3] == ESTABLISHED
    ]
    assert len(inodes) == 1, f"no single server end for port {client_port}: {inodes}"
    target = f"socket:[{inodes[0]}]"
    for pid in server.workers():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except FileNotFoundError:  # closed while we looked
                continue
    raise AssertionError(f"no worker of {server.pid} holds {target}")


async def _http_worker(server: LiveServer, client: httpx.AsyncClient) -> int:
    """Which worker serves this one-connection client (it has just been answered)."""
    response = await client.get(f"{server.url}/healthz")
    assert response.status_code == 200, response.text
    stream = response.extensions["network_stream"]
    return serving_worker(server, stream.get_extra_info("client_addr")[1])


async def http_on_every_worker(
    server: LiveServer, stack: AsyncExitStack
) -> dict[int, httpx.AsyncClient]:
    """One kept-alive connection served by each worker: new connections are opened until
    every worker has accepted one (the kernel hands each to whichever worker accepts).
    The server answers once its first worker does; the others may not be spawned yet."""
    await _wait_for(lambda: len(server.workers()) == WORKERS, f"{WORKERS} workers spawned")
    workers = set(server.workers())
    clients: dict[int, httpx.AsyncClient] = {}
    for _ in range(CONNECTION_ATTEMPTS):
        client = await stack.enter_async_context(
            httpx.AsyncClient(timeout=MESSAGE_BOUND_S, limits=httpx.Limits(max_connections=1))
        )
        worker = await _http_worker(server, client)
        if worker in clients:
            await client.aclose()
            await asyncio.sleep(0.1)  # another worker may still be starting
        else:
            clients[worker] = client
        if set(clients) == workers:
            return clients
    raise AssertionError(f"connections reached only workers {sorted(clients)} of {workers}")


async def subscribers_on_every_worker(
    server: LiveServer, owner: str, stack: AsyncExitStack
) -> dict[int, ClientConnection]:
    """One subscription of `owner`'s events on a WebSocket served by each worker."""
    workers = set(server.workers())
    sockets: dict[int, ClientConnection] = {}
    for _ in range(CONNECTION_ATTEMPTS):
        ws = await stack.enter_async_context(ws_connection(server.ws_url))
        assert (await init(ws, server.token(owner)))["type"] == "connection_ack"
        worker = serving_worker(server, ws.local_address[1])
        if worker in sockets:
            await ws.close()
            continue
        await subscribe(ws, "events", EVENTS)
        sockets[worker] = ws
        if set(sockets) == workers:
            return sockets
    raise AssertionError(f"WebSockets reached only workers {sorted(sockets)} of {workers}")


async def _graphql(
    server: LiveServer, client: httpx.AsyncClient, owner: str, query: str, **variables: Any
) -> httpx.Response:
    return await client.post(
        server.graphql_url, json=operation(query, variables), headers=server.headers(owner)
    )


async def _upload(server: LiveServer, client: httpx.AsyncClient, owner: str, seed: int) -> str:
    response = await client.post(
        server.graphql_url,
        headers=bearer(server.token(owner), preflight=True),
        **upload_form(jpeg(seed)),
    )
    image_id: str = upload_result(response)["id"]
    return image_id


async def test_a_write_through_one_worker_is_read_by_every_worker_past_its_cache(
    server: LiveServer, owner: str
) -> None:
    async with AsyncExitStack() as stack:
        clients = await http_on_every_worker(server, stack)

        async def pool_everywhere() -> dict[int, tuple[list[dict[str, Any]], str]]:
            answers = {}
            for worker, client in clients.items():
                response = await _graphql(server, client, owner, LIST)
                answers[worker] = (data_of(response)["meImages"], response.headers["etag"])
            return answers

        # Each worker answers the empty pool, then the same again from its query cache.
        first = await pool_everywhere()
        assert {worker: images for worker, (images, _) in first.items()} == {
            worker: [] for worker in clients
        }
        again = await pool_everywhere()
        assert again == first

        writes = list(clients.items())
        for n, (writer, client) in enumerate(writes):
            image = await _upload(server, client, owner, seed=n)
            label = f"written through worker {writer}"
            response = await _graphql(server, client, owner, UPDATE, id=image, label=label)
            assert data_of(response)["updateMeImage"]["__typename"] == "MeImage"
            for worker, (images, etag) in (await pool_everywhere()).items():
                assert {"id": image, "label": label, "usage": {"aiReference": False}} in images, (
                    f"worker {worker} does not see the write through worker {writer}"
                )
                assert len(images) == n + 1
                assert etag != first[worker][1]


async def test_every_workers_subscribers_receive_every_write_once_in_order(
    server: LiveServer, owner: str
) -> None:
    async with AsyncExitStack() as stack:
        clients = await http_on_every_worker(server, stack)
        subscribers = await subscribers_on_every_worker(server, owner, stack)
        # The subscriptions are live once a first write reaches each of them.
        writer = next(iter(clients))
        image = await _upload(server, clients[writer], owner, seed=100)
        expected: list[tuple[str, str]] = [("ADDED", image)]
        for ws in subscribers.values():
            assert await _event(ws) == expected[0]
        # Then writes through each worker in turn, each seen by every worker's subscriber.
        for n in range(6):
            through = list(clients)[n % len(clients)]
            response = await _graphql(
                server, clients[through], owner, TOGGLE, id=image, on=n % 2 == 0
            )
            assert data_of(response)["setAiReferenceEnabled"]["__typename"] == "MeImage"
            expected.append(("AI_REFERENCE_TOGGLED", image))
        for worker, ws in subscribers.items():
            received = [await _event(ws) for _ in expected[1:]]
            assert received == expected[1:], f"subscriber on worker {worker}"
        # Nothing more than that: the next message each gets is the next write's event.
        last = await _upload(server, clients[writer], owner, seed=101)
        for ws in subscribers.values():
            assert await _event(ws) == ("ADDED", last)


async def _event(ws: ClientConnection) -> tuple[str, str]:
    message = await asyncio.wait_for(receive(ws), MESSAGE_BOUND_S)
    assert message["type"] == "next", message
    event = message["payload"]["data"]["meImageEvents"]
    assert event["__typename"] == "MeImageEvent", event
    return event["type"], event["imageId"]


async def _wait_for(condition: Any, what: str) -> None:
    for _ in range(PROCESS_POLLS):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_a_dead_worker_is_replaced_and_sigterm_ends_every_worker(
    database: str, tmp_path: Path, owner: str
) -> None:
    live = start_server(tmp_path, _settings(database), workers=WORKERS)
    try:
        async with AsyncExitStack() as stack:
            await http_on_every_worker(live, stack)
        victim, survivor = live.workers()
        os.kill(victim, signal.SIGKILL)
        await _wait_for(
            lambda: len(live.workers()) == WORKERS and victim not in live.workers(),
            "a new worker in place of the killed one",
        )
        assert survivor in live.workers()
        async with AsyncExitStack() as stack:  # the replacement serves too
            clients = await http_on_every_worker(live, stack)
            assert set(clients) == set(live.workers())
            for client in clients.values():
                assert data_of(await _graphql(live, client, owner, LIST))["meImages"] == []
        workers = live.workers()
        assert isinstance(live.process, Subprocess)
        popen = live.process.popen
        popen.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(popen.wait, 60) == 0
        assert [pid for pid in workers if _running(pid)] == []
    finally:
        live.kill()


async def test_every_worker_takes_its_share_of_the_connection_pool(server: LiveServer) -> None:
    """`--workers 2` reaches each worker as MEIMAGES_WORKERS, by which it divides
    MEIMAGES_DB_POOL_SIZE (`Settings.db_connections_per_process`)."""
    await _wait_for(lambda: len(server.workers()) == WORKERS, f"{WORKERS} workers spawned")
    for pid in server.workers():
        assert f"MEIMAGES_WORKERS={WORKERS}".encode() in _environment(pid), pid


def _environment(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_sqlite_refuses_several_workers_and_says_why(tmp_path: Path, how: str) -> None:
    args = ["serve", "--data-dir", str(tmp_path)]
    settings = {"MEIMAGES_WORKERS": "2"} if how == "variable" else {}
    result = subprocess.run(
        [str(MEIMAGES), *args, *(["--workers", "2"] if how == "flag" else [])],
        env=clean_environment(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result
    assert result.stderr.startswith("meimages serve: error: --workers needs PostgreSQL"), result
    assert "subscribers served by the other workers would miss events" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "meimages.db").exists()  # refused before anything was made
