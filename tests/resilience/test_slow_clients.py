"""Slow and half-dead clients: uploads that trickle in (slowloris) and WebSocket clients
that stop reading are cut off by the server, while a normal client meanwhile is served
and a normal subscriber gets every event."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testbed.graphql import bearer, upload_form
from testbed.images import jpeg
from testbed.server import LiveServer, start_server
from tests.resilience.load import (
    EVENTS,
    IMAGE,
    TOGGLE,
    ResumingSubscriber,
    graphql_outcome,
    replay,
)

SLOW_UPLOADS = 40
STUCK_SUBSCRIBERS = 20
NORMAL_CALLS = 40
CUT_POLLS = 600  # 0.2 s apart: a safety net, never a verdict about speed
TCP_ESTABLISHED, TCP_CLOSE_WAIT = "01", "08"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp("slow"),
        {
            "MEIMAGES_BODY_IDLE_TIMEOUT": "3",
            "MEIMAGES_WS_PING_INTERVAL": "1",
            "MEIMAGES_WS_PING_TIMEOUT": "2",
        },
    )
    yield live
    live.stop()


def slow_upload(server: LiveServer, token: str, path: str) -> socket.socket:
    """Headers and the first bytes of a large multipart upload, then nothing more."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    boundary = "slowloris"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        "GraphQL-Require-Preflight: 1\r\nContent-Length: 2000000\r\n\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    sock.sendall(head.encode() + b"\xff\xd8\xff")
    return sock


def answer_of(sock: socket.socket) -> bytes:
    """Everything the server sends before it closes the connection."""
    sock.settimeout(120)  # a safety net: the server must close long before
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def _frame(payload: dict[str, object]) -> bytes:
    """One masked text frame, as a client must send it."""
    data = json.dumps(payload).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    length = len(data)
    if length < 126:
        header = struct.pack("!BB", 0x81, 0x80 | length)
    else:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    return header + mask + masked


def stuck_subscriber(server: LiveServer, token: str) -> socket.socket:
    """A graphql-transport-ws client that subscribes and then never reads again (a tiny
    receive buffer, so the server's writes back up at once)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
    )
    sock.settimeout(60)
    handshake = b""
    while b"\r\n\r\n" not in handshake:
        handshake += sock.recv(1)  # byte by byte: leave every frame after it unread
    assert handshake.startswith(b"HTTP/1.1 101"), handshake
    sock.sendall(
        _frame({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    sock.sendall(_frame({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}))
    return sock


def tcp_state(local_port: int, remote_port: int) -> str | None:
    """The kernel's state of our end of a loopback connection (None once it is gone).
    Both ports: Linux shares an ephemeral port among connections to other destinations."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == local_port and int(remote, 16) == remote_port:
            return fields[3]
    return None


async def wait_cut(sockets: list[socket.socket], server_port: int) -> None:
    pairs = [(s.getsockname()[1], server_port) for s in sockets]
    for _ in range(CUT_POLLS):
        if all(tcp_state(*pair) != TCP_ESTABLISHED for pair in pairs):
            return
        await asyncio.sleep(0.2)
    alive = [pair for pair in pairs if tcp_state(*pair) == TCP_ESTABLISHED]
    raise AssertionError(f"{len(alive)} stuck connections never cut")


async def normal_traffic(
    http: httpx.AsyncClient, server: LiveServer, owner: str, image_id: str
) -> list[float]:
    """A well-behaved client's calls meanwhile; each must succeed. Their latencies are
    returned for the record (printed, never judged)."""
    latencies = []
    for n in range(NORMAL_CALLS):
        started = time.perf_counter()
        if n % 10 == 0:
            form = upload_form(jpeg(500 + n), fields=IMAGE)
            headers = bearer(server.token(owner), preflight=True)
            response = await http.post(server.graphql_url, headers=headers, **form)
        else:
            response = await http.post(
                server.graphql_url,
                json={"query": TOGGLE, "variables": {"id": image_id, "on": n % 2 == 0}},
                headers=server.headers(owner),
            )
        assert graphql_outcome(response) == "ok", response.text
        latencies.append(time.perf_counter() - started)
    return latencies


async def test_slowloris_uploads_get_408_while_others_are_served(server: LiveServer) -> None:
    owner = "owner-slowloris"
    token = server.token(owner)
    async with httpx.AsyncClient(timeout=60) as http:
        first = await http.post(
            server.graphql_url,
            headers=bearer(token, preflight=True),
            **upload_form(jpeg(1), fields=IMAGE),
        )
        image_id = first.json()["data"]["uploadMeImage"]["id"]
        slow = [
            slow_upload(server, token, "/graphql" if n % 2 else "/api/v1/profile/me-images/upload")
            for n in range(SLOW_UPLOADS)
        ]
        answers = asyncio.gather(*(asyncio.to_thread(answer_of, s) for s in slow))
        latencies = await normal_traffic(http, server, owner, image_id)
        for answer in await answers:
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert b"REQUEST_TIMEOUT" in answer
        # Nothing of the trickled uploads was kept.
        listed = await http.post(
            server.graphql_url, json={"query": "{ meImages { id } }"}, headers=server.headers(owner)
        )
        assert len(listed.json()["data"]["meImages"]) == 1 + NORMAL_CALLS // 10
    latencies.sort()
    print(f"normal client beside {SLOW_UPLOADS} slowloris uploads: "
          f"p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")  # fmt: skip
    assert server.alive(), server.log_tail()


async def test_subscribers_that_stop_reading_are_cut_off_without_holding_others(
    server: LiveServer,
) -> None:
    owner = "owner-stuck"
    token = server.token(owner)
    async with httpx.AsyncClient(timeout=60) as http:
        first = await http.post(
            server.graphql_url,
            headers=bearer(token, preflight=True),
            **upload_form(jpeg(2), fields=IMAGE),
        )
        image_id = first.json()["data"]["uploadMeImage"]["id"]
        cursor = (
            await http.post(
                server.graphql_url,
                json={"query": "{ meImageEventCursor }"},
                headers=server.headers(owner),
            )
        ).json()["data"]["meImageEventCursor"]
        healthy = ResumingSubscriber(server, owner, cursor)
        healthy.start()
        stuck = [
            await asyncio.to_thread(stuck_subscriber, server, token)
            for _ in range(STUCK_SUBSCRIBERS)
        ]
        try:
            latencies = await normal_traffic(http, server, owner, image_id)
            last = (
                await http.post(
                    server.graphql_url,
                    json={"query": "{ meImageEventCursor }"},
                    headers=server.headers(owner),
                )
            ).json()["data"]["meImageEventCursor"]
            await healthy.wait_for_cursor(last)
            await wait_cut(stuck, server.port)
            logged = await replay(server, owner, cursor, last)
        finally:
            await healthy.stop()
            for sock in stuck:
                sock.close()
    # The healthy subscriber got every event of the log, once and in order.
    assert [e["cursor"] for e in healthy.events] == [e["cursor"] for e in logged]
    assert len(logged) >= NORMAL_CALLS // 2
    latencies.sort()
    print(f"normal client beside {STUCK_SUBSCRIBERS} stuck subscribers: "
          f"p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")  # fmt: skip
    assert server.alive(), server.log_tail()
