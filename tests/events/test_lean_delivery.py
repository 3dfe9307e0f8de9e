"""`meImageEvents` over graphql-transport-ws is delivered by one loop per document,
variables and caller (`schema.events.delivery`): no operation, no task per subscriber;
resume, token expiry, `complete` and closing stay each subscriber's own."""

from __future__ import annotations

import asyncio
import gc
import socket
import tracemalloc
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from websockets.asyncio.client import ClientConnection

from api.websocket_protocol import BoundedWebSocketProtocol
from resolvers.stores import Caller
from schema import build_schema
from schema.context import RequestContext
from schema.events import delivery
from schema.tokens import TOKEN_LEEWAY_S
from testbed.images import jpeg
from testbed.wire import init, receive, send, subscribe, ws_connection
from tests.support.app import Api

SUBSCRIPTION = """subscription($after: String) { meImageEvents(after: $after) {
  __typename ... on MeImageEvent { type cursor image { id usage { aiReference } } }
  ... on Error { code message } } }"""
TOGGLE = "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on) { __typename } }"
POLLS = 2000  # of 10 ms: a bound for conditions the server reaches on its own


@dataclass
class Served:
    api: Api
    ws_url: str
    protocol: object

    @property
    def groups(self) -> delivery.EventGroups:
        groups = self.api.app.state.graphql_view.event_groups
        assert groups is not None
        return groups  # type: ignore[no-any-return]


@pytest_asyncio.fixture
async def served(api: Api, request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    """The app behind uvicorn on loopback, on this test's event loop (so the test sees
    the server's objects), with the server's WebSocket protocol unless a test names
    another."""
    ws = getattr(request, "param", BoundedWebSocketProtocol)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(api.app, log_config=None, access_log=False, lifespan="off", ws=ws)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(POLLS):
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield Served(api, f"ws://127.0.0.1:{port}/graphql", ws)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


@dataclass
class Inbox:
    """What one connection received, by operation id."""

    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    completed: set[str] = field(default_factory=set)
    refused: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def read(self, ws: ClientConnection) -> None:
        while True:
            message = await receive(ws)
            async with self.arrived:
                if message["type"] == "next":
                    data = message["payload"]["data"]["meImageEvents"]
                    self.events.setdefault(message["id"], []).append(data)
                elif message["type"] == "complete":
                    self.completed.add(message["id"])
                else:
                    self.refused.append(message)
                self.arrived.notify_all()

    async def wait(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(60), self.arrived:
            await self.arrived.wait_for(done)

    def cursors(self, id: str) -> list[str]:
        return [event["cursor"] for event in self.events.get(id, [])]


@asynccontextmanager
async def connection(served: Served, token: str) -> AsyncIterator[tuple[ClientConnection, Inbox]]:
    async with ws_connection(served.ws_url) as ws:
        assert (await init(ws, token))["type"] == "connection_ack"
        inbox = Inbox()
        reader = asyncio.create_task(inbox.read(ws))
        try:
            yield ws, inbox
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(POLLS):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never reached")


async def start(api: Api, owner: str) -> tuple[str, str]:
    image = str((await api.upload(jpeg(740), user=owner))["id"])
    cursor = (await api.gql("{ meImageEventCursor }", user=owner))["meImageEventCursor"]
    return image, cursor


def each_has(inbox: Inbox, subscriptions: int, events: int) -> bool:
    return all(len(inbox.cursors(str(m))) >= events for m in range(subscriptions))


async def toggle(api: Api, owner: str, image: str, on: bool) -> None:
    await api.gql(TOGGLE, {"id": image, "on": on}, user=owner)


def group_of(served: Served, owner: str) -> delivery.EventGroup | None:
    found = [g for g in served.groups._groups.values() if g.caller.owner_id == owner]
    assert len(found) <= 1
    return found[0] if found else None


async def test_subscribers_share_one_loop_without_an_operation_or_task_each(
    served: Served, owner: str
) -> None:
    api = served.api
    image, cursor = await start(api, owner)
    token = api.token(owner)
    async with (
        connection(served, token) as (ws_1, inbox_1),
        connection(served, token) as (
            ws_2,
            inbox_2,
        ),
    ):
        await subscribe(ws_1, "0", SUBSCRIPTION, {"after": cursor})
        await until(lambda: group_of(served, owner) is not None)
        group = group_of(served, owner)
        assert group is not None
        await until(lambda: len(group.members) == 1)
        tasks = len(asyncio.all_tasks())
        for n in range(1, 15):
            await subscribe(ws_1, str(n), SUBSCRIPTION, {"after": cursor})
        for n in range(15):
            await subscribe(ws_2, str(n), SUBSCRIPTION, {"after": cursor})
        await until(lambda: len(group.members) == 30)
        # The operations that admitted them are over: no task per subscriber is left.
        await until(lambda: len(asyncio.all_tasks()) <= tasks + 2)
        for n in range(4):
            await toggle(api, owner, image, n % 2 == 0)
        everyone = [(inbox_1, str(n)) for n in range(15)] + [(inbox_2, str(n)) for n in range(15)]
        await inbox_1.wait(lambda: all(len(inbox_1.cursors(str(n))) >= 4 for n in range(15)))
        await inbox_2.wait(lambda: all(len(inbox_2.cursors(str(n))) >= 4 for n in range(15)))
        reference = inbox_1.cursors("0")
        assert len(reference) == 4 == len(set(reference))
        for inbox, id in everyone:
            assert inbox.cursors(id) == reference
            assert [e["image"]["usage"]["aiReference"] for e in inbox.events[id]] == [
                True,
                False,
                True,
                False,
            ]
        assert group_of(served, owner) is group


@pytest.mark.parametrize(
    "served",
    [BoundedWebSocketProtocol, "websockets-sansio"],
    ids=["one-write-per-event", "uvicorn-one-send-per-frame"],
    indirect=True,
)
async def test_an_events_frames_for_one_connection_go_out_in_one_write(
    served: Served, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's protocol takes an event's frames for a connection's subscriptions in
    one write; behind a server without it, each goes out with a `send` of its own."""
    writes: list[int] = []
    send_texts = BoundedWebSocketProtocol.send_texts

    async def counted(self: BoundedWebSocketProtocol, texts: Sequence[str]) -> None:
        writes.append(len(texts))
        await send_texts(self, texts)

    monkeypatch.setattr(BoundedWebSocketProtocol, "send_texts", counted)
    api = served.api
    image, cursor = await start(api, owner)
    async with connection(served, api.token(owner)) as (ws, inbox):
        for n in range(5):
            await subscribe(ws, str(n), SUBSCRIPTION, {"after": cursor})
        await until(
            lambda: (group := group_of(served, owner)) is not None and len(group.members) == 5
        )
        for n in range(1, 4):
            await toggle(api, owner, image, n % 2 == 1)
            await inbox.wait(partial(each_has, inbox, 5, n))
        reference = inbox.cursors("0")
        assert len(reference) == 3 == len(set(reference))
        for m in range(5):
            assert inbox.cursors(str(m)) == reference
            assert [e["image"]["usage"]["aiReference"] for e in inbox.events[str(m)]] == [
                True,
                False,
                True,
            ]
    assert writes == ([5, 5, 5] if served.protocol is BoundedWebSocketProtocol else [])


async def test_a_refused_handshake_is_answered_and_the_next_one_served(
    served: Served, owner: str
) -> None:
    """An upgrade the protocol refuses (no Sec-WebSocket-Key) gets its 400 and no app; the
    server goes on serving WebSockets."""
    port = int(served.ws_url.rsplit(":", 1)[1].split("/", 1)[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await writer.drain()
    async with asyncio.timeout(60):
        answer = await reader.read()  # the server closes after its answer
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer
    api = served.api
    image, cursor = await start(api, owner)
    async with connection(served, api.token(owner)) as (ws, inbox):
        await subscribe(ws, "0", SUBSCRIPTION, {"after": cursor})
        await toggle(api, owner, image, True)
        await inbox.wait(partial(each_has, inbox, 1, 1))


async def test_an_idle_subscription_is_small(served: Served, owner: str) -> None:
    api = served.api
    image, cursor = await start(api, owner)
    token = api.token(owner)
    count, per_connection = 100, 20
    async with (
        connection(served, token) as (warm_ws, warm),
        connection(served, token) as (ws_1, inbox_1),
        connection(served, token) as (ws_2, inbox_2),
        connection(served, token) as (ws_3, inbox_3),
        connection(served, token) as (ws_4, inbox_4),
        connection(served, token) as (ws_5, inbox_5),
    ):
        # A first subscriber and a first event warm every path up.
        await subscribe(warm_ws, "w", SUBSCRIPTION, {"after": cursor})
        await toggle(api, owner, image, True)
        await warm.wait(lambda: len(warm.cursors("w")) == 1)
        cursor = warm.cursors("w")[0]
        group = group_of(served, owner)
        assert group is not None
        tasks = len(asyncio.all_tasks())
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for ws in (ws_1, ws_2, ws_3, ws_4, ws_5):
                for n in range(per_connection):
                    await subscribe(ws, str(n), SUBSCRIPTION, {"after": cursor})
            await until(lambda: len(group.members) == count + 1)
            await until(lambda: len(asyncio.all_tasks()) <= tasks)
            gc.collect()
            per_subscription = (tracemalloc.get_traced_memory()[0] - before) / count
        finally:
            tracemalloc.stop()
        # Every one of them is live.
        await toggle(api, owner, image, False)
        for inbox in (inbox_1, inbox_2, inbox_3, inbox_4, inbox_5):
            await inbox.wait(
                lambda inbox=inbox: all(  # type: ignore[misc]
                    len(inbox.cursors(str(n))) == 1 for n in range(per_connection)
                )
            )
    print(f"idle subscription: {per_subscription:.0f} bytes traced")
    assert per_subscription < 4096, per_subscription


async def test_joining_with_a_cursor_during_a_burst_gets_every_event_once_in_order(
    served: Served, owner: str
) -> None:
    api = served.api
    image, cursor = await start(api, owner)
    token = api.token(owner)
    burst = 40
    async with connection(served, token) as (ws, inbox):
        await subscribe(ws, "first", SUBSCRIPTION, {"after": cursor})
        await until(lambda: group_of(served, owner) is not None)

        async def writes() -> None:
            for n in range(burst):
                await toggle(api, owner, image, n % 2 == 0)

        writer = asyncio.create_task(writes())
        # Joiners while the group is ahead of them: from the start, and from the tenth.
        await inbox.wait(lambda: len(inbox.cursors("first")) >= 10)
        await subscribe(ws, "from-start", SUBSCRIPTION, {"after": cursor})
        tenth = inbox.cursors("first")[9]
        await subscribe(ws, "from-tenth", SUBSCRIPTION, {"after": tenth})
        await inbox.wait(lambda: len(inbox.cursors("first")) >= 20)
        await subscribe(ws, "from-now", SUBSCRIPTION, {"after": None})
        await writer
        await inbox.wait(
            lambda: all(
                len(inbox.cursors(id)) >= expected
                for id, expected in (("first", burst), ("from-start", burst), ("from-tenth", 30))
            )
        )
        # One more change: every one of them (caught up, so in the group) has it.
        await toggle(api, owner, image, True)
        await inbox.wait(
            lambda: (
                all(
                    len(inbox.cursors(id)) >= n
                    for id, n in (
                        ("first", burst + 1),
                        ("from-start", burst + 1),
                        ("from-tenth", 31),
                    )
                )
                and len(inbox.cursors("from-now")) >= 1
            )
        )
        group = group_of(served, owner)
        assert group is not None
        await until(lambda: len(group.members) == 4 and group.solo == 0)
    reference = inbox.cursors("first")
    assert len(reference) == burst + 1 == len(set(reference))
    assert inbox.cursors("from-start") == reference
    assert inbox.cursors("from-tenth") == reference[10:]
    now = inbox.cursors("from-now")
    assert now == reference[len(reference) - len(now) :]


async def test_complete_and_close_remove_members_and_the_last_ends_the_group(
    served: Served, owner: str
) -> None:
    api = served.api
    image, cursor = await start(api, owner)
    token = api.token(owner)
    async with connection(served, token) as (ws_1, inbox_1):
        async with connection(served, token) as (ws_2, _inbox_2):
            for n in range(2):
                await subscribe(ws_1, str(n), SUBSCRIPTION, {"after": cursor})
            await subscribe(ws_2, "0", SUBSCRIPTION, {"after": cursor})
            await until(lambda: (g := group_of(served, owner)) is not None and len(g.members) == 3)
            group = group_of(served, owner)
            assert group is not None
            await send(ws_1, {"id": "1", "type": "complete"})
            await until(lambda: len(group.members) == 2)
        await until(lambda: len(group.members) == 1)
        await toggle(api, owner, image, True)
        await inbox_1.wait(lambda: len(inbox_1.cursors("0")) == 1)
        assert inbox_1.cursors("1") == []
        # The id is free again once completed.
        await send(ws_1, {"id": "0", "type": "complete"})
        await until(lambda: group_of(served, owner) is None)
        await until(group.task.done)
        await subscribe(ws_1, "1", SUBSCRIPTION, {"after": cursor})
        await inbox_1.wait(lambda: len(inbox_1.cursors("1")) == 1)
    await until(lambda: group_of(served, owner) is None)


async def test_a_token_ends_its_own_subscriptions_only(served: Served, owner: str) -> None:
    api = served.api
    image, cursor = await start(api, owner)
    async with connection(served, api.token(owner)) as (ws_long, long):
        await subscribe(ws_long, "long", SUBSCRIPTION, {"after": cursor})
        await until(lambda: (g := group_of(served, owner)) is not None and len(g.members) == 1)
        # A token honoured for a few seconds more (its `exp` within the clock leeway); a
        # longer one if it expired before the subscription was made on a slow machine.
        for ttl_s in (3, 6, 12, 24, 48):
            short_token = api.token(owner, ttl_s=ttl_s - TOKEN_LEEWAY_S)
            async with connection(served, short_token) as (ws_short, short):
                await subscribe(ws_short, "short", SUBSCRIPTION, {"after": cursor})
                await toggle(api, owner, image, True)
                await short.wait(lambda: "short" in short.completed)
                events = short.events["short"]
                if events[0]["__typename"] == "TokenExpiredError":
                    continue  # expired on the way in: a slow start, not a verdict
                assert [e["__typename"] for e in events[:-1]] == ["MeImageEvent"] * (
                    len(events) - 1
                )
                assert events[-1]["__typename"] == "TokenExpiredError"
                assert events[-1]["code"] == "TOKEN_EXPIRED"
                break
        else:
            raise AssertionError("every token expired before its subscription was made")
        await toggle(api, owner, image, False)
        await long.wait(lambda: len(long.cursors("long")) >= 2)
        assert "long" not in long.completed
        assert long.events["long"][-1]["__typename"] == "MeImageEvent"


@pytest.mark.parametrize("protocol", ["graphql-ws"])
async def test_the_legacy_protocol_keeps_its_operations(
    served: Served, owner: str, protocol: str
) -> None:
    api = served.api
    image, cursor = await start(api, owner)
    async with ws_connection(served.ws_url, protocol=protocol) as ws:  # type: ignore[arg-type]
        await send(
            ws,
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {api.token(owner)}"}},
        )
        assert (await receive(ws))["type"] == "connection_ack"
        await send(
            ws,
            {
                "id": "1",
                "type": "start",
                "payload": {"query": SUBSCRIPTION, "variables": {"after": cursor}},
            },
        )
        await toggle(api, owner, image, True)
        message = await asyncio.wait_for(receive(ws), 60)
        assert message["type"] == "data"
        assert message["payload"]["data"]["meImageEvents"]["type"] == "AI_REFERENCE_TOGGLED"
        assert group_of(served, owner) is None


class SlowSocket:
    """A sink whose socket takes nothing until `opened`; what it took, in order."""

    def __init__(self) -> None:
        self.queue: deque[tuple[delivery.Member, int, Any]] = deque()
        self.written: list[Any] = []
        self.opened = asyncio.Event()
        self.arrived = asyncio.Condition()

    def push(self, member: delivery.Member, seq: int, payload: Any) -> None:
        self.queue.append((member, seq, payload))
        member.queued += 1

    def purge(self, member: delivery.Member) -> None:
        self.queue = deque(frame for frame in self.queue if frame[0] is not member)
        member.queued = 0

    async def settle(self, member: delivery.Member) -> None:
        pass

    async def send(self, member: delivery.Member, payload: Any) -> None:
        await self.opened.wait()
        await self.took(payload)

    async def drain(self) -> None:
        while self.queue:
            member, seq, payload = self.queue.popleft()
            member.queued -= 1
            member.handed = seq
            await self.took(payload)

    async def took(self, payload: Any) -> None:
        async with self.arrived:
            self.written.append(payload)
            self.arrived.notify_all()

    def cursors(self) -> list[str]:
        return [p["data"]["meImageEvents"]["cursor"] for p in self.written if p is not None]


async def test_a_socket_that_falls_behind_catches_up_from_the_log(
    api: Api, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames waiting on a socket are bounded: past the limit they are dropped and the
    subscriber reads the log from what its socket took, then joins its group again; it
    still gets every event once, in order (the feed's mailbox does the same)."""
    monkeypatch.setattr(delivery, "QUEUE_LIMIT", 3)
    image, cursor = await start(api, owner)
    schema = build_schema()
    context = RequestContext(
        stores=api.stores, urls=api.app.state.server.urls, caller=Caller(owner)
    )
    sink = SlowSocket()
    handoff = delivery.Handoff(delivery.EventGroups(), schema, sink, "slow")
    stream = await schema.subscribe(
        SUBSCRIPTION, variable_values={"after": cursor}, context_value=context, root_value=handoff
    )
    assert [result async for result in stream] == []  # type: ignore[union-attr]
    member = handoff.member
    assert member is not None
    group = member.group
    assert list(group.members) == [member]
    burst = 10
    for n in range(burst):
        await toggle(api, owner, image, n % 2 == 0)
    await until(lambda: member.solo is not None)  # fell behind: on its own
    assert len(sink.queue) == 0 and member.queued == 0
    sink.opened.set()
    await until(lambda: member.solo is None)  # caught up: back in its group
    assert list(group.members) == [member]
    # What the group had not reached when it joined comes from the group.
    await until(lambda: len(sink.written) + len(sink.queue) >= burst)
    await sink.drain()
    assert len(sink.written) == burst
    await toggle(api, owner, image, True)
    await until(lambda: bool(sink.queue))
    await sink.drain()
    cursors = sink.cursors()
    assert len(cursors) == burst + 1 == len(set(cursors))
    head = await api.gql("{ meImageEventCursor }", user=owner)
    assert cursors[-1] == head["meImageEventCursor"]
    member.close()
    assert group.closed
