"""Pruning and purging never leave a client with a cursor it cannot resume from."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from resolvers.events import cursors, feed
from resolvers.lifecycle.purge import purge_owner
from resolvers.stores import Caller
from storage.eventlog import retention
from storage.tables import MeImageEvent, utcnow
from testbed.images import jpeg
from tests.support.app import Api

CURSOR = "{ meImageEventCursor }"


async def test_quiet_owner_resumes_after_pruning(api: Api, owner: str, other_owner: str) -> None:
    stores = api.app.state.server.stores
    await api.upload(jpeg(71), user=owner)
    before = (await api.gql(CURSOR, user=owner))["meImageEventCursor"]
    await api.upload(jpeg(72), user=other_owner)
    await api.upload(jpeg(73), user=other_owner)
    # Everything but the newest event (the other owner's) goes.
    assert await retention.prune_events(stores.db, utcnow() + timedelta(seconds=5)) > 0
    async with stores.db.session() as session:
        horizon = await retention.pruned_through(session)
    cursor = (await api.gql(CURSOR, user=owner))["meImageEventCursor"]
    assert cursor != before  # the cached answer was refreshed
    assert cursors.decode_cursor(cursor) >= horizon
    # Subscribing from it works and delivers the owner's next change.
    stream = feed.follow(stores, Caller(owner), cursor)
    next_event = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    image = await api.upload(jpeg(74), user=owner)
    event = await asyncio.wait_for(next_event, 60)
    assert event.image_id == image["id"]
    await stream.aclose()


async def test_event_numbers_are_never_reused_after_a_purge(api: Api, owner: str) -> None:
    stores = api.app.state.server.stores
    await api.upload(jpeg(75), user=owner)
    async with stores.db.session() as session:
        top = await session.scalar(select(func.max(MeImageEvent.seq)))  # type: ignore[arg-type]
    await purge_owner(stores, owner)  # may remove the newest rows of the whole log
    await api.upload(jpeg(76), user=owner)
    async with stores.db.session() as session:
        newest = await session.scalar(
            select(func.max(MeImageEvent.seq)).where(MeImageEvent.owner_id == owner)  # type: ignore[arg-type]
        )
    assert newest is not None and top is not None and newest > top
