"""Resuming by cursor: a subscriber that keeps losing its connection still ends up with
every event of its owner exactly once, in order, and nothing of anyone else's."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
from sqlalchemy import select

from resolvers.events.cursors import decode_cursor
from storage.db import Database
from storage.tables import MeImageEvent
from testbed.server import LiveServer
from testbed.wire import init, receive, subscribe, ws_connection
from tests.events.conftest import (
    EVENT_FIELDS,
    event_cursor,
    new_owner,
    set_ai,
    upload,
)

QUERY = f"subscription($after: String) {{ meImageEvents(after: $after) {{ {EVENT_FIELDS} }} }}"
RENAME = "mutation($id: ID!, $label: String) { updateMeImage(id: $id, input: {label: $label}) { __typename } }"
CHANGES = 210


async def test_resume_after_random_drops_delivers_every_event_once_in_order(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    rng = random.Random(4_2026)
    owner, other = new_owner(), new_owner("other")
    start = await event_cursor(http, live, user=owner)
    token = live.token(owner)
    received: list[dict[str, Any]] = []
    drops = {"graceful": 0, "abrupt": 0}

    images = [(await upload(http, live, 40 + n, user=owner))["id"] for n in range(3)]
    foreign = (await upload(http, live, 50, user=other))["id"]
    expected = len(images) + CHANGES

    async def mutate() -> None:
        opted_in = dict.fromkeys(images, False)
        for n in range(CHANGES):
            image = images[n % len(images)]
            if n % 5 == 4:
                await live.graphql(http).gql(
                    RENAME, {"id": image, "label": f"take {n}"}, user=owner
                )
            else:
                opted_in[image] = not opted_in[image]
                await set_ai(http, live, image, opted_in[image], user=owner)
            if n % 3 == 0:
                # Another owner changes too, all along.
                await set_ai(http, live, foreign, n % 2 == 0, user=other)

    async def follow_with_drops() -> None:
        cursor = start
        loop = asyncio.get_running_loop()
        while len(received) < expected:
            # Drop after a random number of events, or after a random moment (which may
            # fall before the subscription even started, or in the middle of a replay).
            by_time = rng.random() < 0.4
            budget = rng.randint(1, 25)
            deadline = loop.time() + (rng.uniform(0, 0.06) if by_time else 10)
            async with ws_connection(live.ws_url) as ws:
                assert (await init(ws, token))["type"] == "connection_ack"
                await subscribe(ws, "events", QUERY, {"after": cursor})
                got = 0
                while (by_time or got < budget) and len(received) < expected:
                    try:
                        async with asyncio.timeout(max(0.0, deadline - loop.time())):
                            message = await receive(ws)
                    except TimeoutError:
                        break
                    assert message["type"] == "next", message
                    item = message["payload"]["data"]["meImageEvents"]
                    assert item["__typename"] == "MeImageEvent", item
                    received.append(item)
                    cursor = item["cursor"]
                    got += 1
                if rng.random() < 0.5:
                    drops["abrupt"] += 1
                    ws.transport.abort()  # the TCP connection just dies
                else:
                    drops["graceful"] += 1

    async with asyncio.timeout(600):  # a hang guard, far above any honest run
        await asyncio.gather(mutate(), follow_with_drops())

    assert drops["abrupt"] > 5 and drops["graceful"] > 5, drops
    assert len(received) == expected
    seqs = [decode_cursor(item["cursor"]) for item in received]
    assert seqs == sorted(set(seqs)), "an event came twice or out of order"
    assert {item["imageId"] for item in received} == set(images)
    db = Database(live.database_url)
    try:
        async with db.session() as session:
            log = (
                await session.scalars(
                    select(MeImageEvent)
                    .where(
                        MeImageEvent.owner_id == owner,  # type: ignore[arg-type]
                        MeImageEvent.seq > decode_cursor(start),  # type: ignore[operator]
                    )
                    .order_by(MeImageEvent.seq)  # type: ignore[arg-type]
                )
            ).all()
    finally:
        await db.dispose()
    assert seqs == [row.seq for row in log]
    assert [item["type"] for item in received] == [row_type(row.type) for row in log]


def row_type(stored: str) -> str:
    return {
        "MeImageAdded": "ADDED",
        "MeImageUpdated": "UPDATED",
        "MeImageAiReferenceToggled": "AI_REFERENCE_TOGGLED",
    }[stored]
