"""Fan-out through a live server: many subscribers of two owners, over graphql-transport-ws
and SSE, with two documents. Each gets every event of its own owner once, in order, and
nothing of the other owner; subscribers of one document get identical payloads."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from testbed.server import LiveServer
from testbed.wire import init, sse_events, subscribe, ws_connection
from tests.events.conftest import SUBSCRIPTION, event_cursor, new_owner, set_ai, upload

SMALL = """subscription Small($after: String) { meImageEvents(after: $after) {
  ... on MeImageEvent { type imageId cursor } ... on Error { code } } }"""
SET_PRIMARY = "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename } }"


class Inbox:
    """What one subscription received, in arrival order."""

    def __init__(self, owner: str, document: str, transport: str) -> None:
        self.owner = owner
        self.document = document
        self.transport = transport
        self.events: list[dict[str, Any]] = []


async def read_ws(ws: Any, inboxes: dict[str, Inbox], arrived: asyncio.Condition) -> None:
    async for raw in ws:
        message = json.loads(raw)
        if message["type"] == "next":
            async with arrived:
                inboxes[message["id"]].events.append(message["payload"]["data"]["meImageEvents"])
                arrived.notify_all()
        elif message["type"] in ("error", "complete"):
            raise AssertionError(f"subscription ended: {message}")


async def read_sse(
    http: httpx.AsyncClient,
    server: LiveServer,
    inbox: Inbox,
    after: str,
    arrived: asyncio.Condition,
) -> None:
    stream = sse_events(
        http,
        server.graphql_url,
        server.token(inbox.owner),
        inbox.document,
        {"after": after},
    )
    async for name, data in stream:
        if name == "next":
            async with arrived:
                inbox.events.append(data["data"]["meImageEvents"])
                arrived.notify_all()


async def test_every_subscriber_gets_its_owners_events_once_in_order(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    ann, bob = new_owner("ann"), new_owner("bob")
    images = {
        who: [(await upload(http, live, 900 + n, user=who))["id"] for n in range(2)]
        for who in (ann, bob)
    }
    after = {who: await event_cursor(http, live, user=who) for who in (ann, bob)}
    arrived = asyncio.Condition()
    inboxes: list[Inbox] = []
    tasks: list[asyncio.Task[None]] = []
    async with (
        ws_connection(live.ws_url) as ann_ws_1,
        ws_connection(live.ws_url) as ann_ws_2,
        ws_connection(live.ws_url) as bob_ws,
    ):
        for ws, who, documents in (
            (ann_ws_1, ann, [SUBSCRIPTION, SUBSCRIPTION, SMALL]),
            (ann_ws_2, ann, [SMALL, SUBSCRIPTION, SMALL]),
            (bob_ws, bob, [SUBSCRIPTION, SMALL]),
        ):
            assert (await init(ws, live.token(who)))["type"] == "connection_ack"
            by_id: dict[str, Inbox] = {}
            for n, document in enumerate(documents):
                by_id[str(n)] = Inbox(who, document, "ws")
                await subscribe(ws, str(n), document, {"after": after[who]})
            inboxes += by_id.values()
            tasks.append(asyncio.create_task(read_ws(ws, by_id, arrived)))
        for who, document in ((ann, SUBSCRIPTION), (ann, SMALL), (bob, SUBSCRIPTION)):
            inbox = Inbox(who, document, "sse")
            inboxes.append(inbox)
            tasks.append(asyncio.create_task(read_sse(http, live, inbox, after[who], arrived)))
        try:
            # A first change of each owner that every subscription must see proves them all
            # live; then the changes whose order counts, the two owners interleaved.
            await set_ai(http, live, images[ann][0], True, user=ann)
            await set_ai(http, live, images[bob][0], True, user=bob)
            client = live.graphql(http)
            for n in range(3):
                await client.gql(SET_PRIMARY, {"id": images[ann][n % 2]}, user=ann)
                await set_ai(http, live, images[bob][1], n % 2 == 0, user=bob)
            await client.gql(SET_PRIMARY, {"id": images[bob][0]}, user=bob)
            # ann: toggle, claim, swap (2), swap (2) = 6; bob: toggle, 3 toggles, claim = 5
            expected = {ann: 6, bob: 5}

            def done() -> bool:
                return all(len(i.events) >= expected[i.owner] for i in inboxes)

            async with asyncio.timeout(60), arrived:
                await arrived.wait_for(done)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    for who in (ann, bob):
        mine = [i for i in inboxes if i.owner == who]
        assert {i.transport for i in mine} == {"ws", "sse"}
        reference = [e["cursor"] for e in mine[0].events]
        assert len(reference) == expected[who] == len(set(reference))
        for inbox in mine:
            assert [e["cursor"] for e in inbox.events] == reference, inbox.transport
            assert {e["imageId"] for e in inbox.events} <= set(images[who])
        for document in (SUBSCRIPTION, SMALL):
            same = [i.events for i in mine if i.document == document]
            assert same and all(events == same[0] for events in same)
        full = next(i for i in mine if i.document == SUBSCRIPTION)
        assert all(e["image"]["id"] == e["imageId"] for e in full.events)
