"""Consent for a time: an opt-in given with an `until` lapses by itself at that moment.

The rule holds without anything running at `until`: the send-time check compares each
`until` with the clock (`Stores.clock`). Lapsing is also written down - the image's flag
goes off and `AI_REFERENCE_TOGGLED` with `expired: true` is logged - exactly once, under
the owner lock, by whichever comes first after `until`:
- any read of the owner's data version (every query and every cached answer asks it, so
  no answer ever shows an opt-in past its `until`), or a consent change of the owner;
- a generation of the owner (before it reads any reference);
- the background sweeper, for owners nobody reads (`lapse_due_periodically`).
The owner row carries the earliest `until` of their opt-ins, so the check costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from resolvers.stores import Stores
from storage.eventlog.payload import EventPayload, EventType
from storage.repositories import UnitOfWork
from storage.tables import aware

log = logging.getLogger("meimages.consent")

BATCH = 500


def is_due(lapses_at: datetime | None, now: datetime) -> bool:
    return lapses_at is not None and aware(lapses_at) <= now


async def lapse_in(tx: UnitOfWork, owner_id: str, lapses_at: datetime | None, now: datetime) -> int:
    """Lapse the owner's opt-ins whose `until` has come, in the caller's transaction (which
    holds the owner lock and read the owner's `lapses_at` with it); returns how many
    lapsed."""
    if not is_due(lapses_at, now):
        return 0
    lapsed = await tx.pool.lapse_timed_consents(owner_id, now)
    for image_id, space_id in lapsed:
        await tx.events.append(
            owner_id,
            space_id,
            EventType.AI_REFERENCE_TOGGLED,
            image_id,
            EventPayload(enabled=False, expired=True),
        )
    await remember_next_lapse(tx, owner_id)
    return len(lapsed)


async def remember_next_lapse(tx: UnitOfWork, owner_id: str) -> None:
    """Keep the owner's earliest `until` in step after their opt-ins changed."""
    await tx.owners.set_consent_lapses_at(owner_id, await tx.pool.next_consent_lapse(owner_id))


async def lapse_due(stores: Stores, owner_id: str) -> int:
    """Lapse the owner's opt-ins whose `until` has come; returns how many lapsed.

    Safe on every instance at once: the owner lock serializes callers and the second
    finds nothing left to lapse."""
    now = stores.clock.now()
    async with stores.transaction() as tx:
        lapses_at = await tx.owners.locked_lapse(owner_id, bump=False)
        if not is_due(lapses_at, now):
            return 0
        lapsed = await lapse_in(tx, owner_id, lapses_at, now)
        if lapsed:
            # The pool changed: every cached answer about this owner is now stale.
            await tx.owners.lock(owner_id)
    if lapsed:
        stores.notifier.notify(owner_id)
        log.info("%d timed consents of %s lapsed", lapsed, owner_id)
    return lapsed


async def lapse_all_due(stores: Stores, *, limit: int = BATCH) -> int:
    """One sweep: lapse what is due for up to `limit` owners; returns how many lapsed."""
    async with stores.reading() as read:
        owners = await read.owners.with_consent_due(stores.clock.now(), limit)
    return sum([await lapse_due(stores, owner_id) for owner_id in owners])


async def lapse_due_periodically(stores: Stores, *, interval: timedelta) -> None:
    """The sweep on a timer, for as long as the server runs (cancelled on shutdown)."""
    while True:
        try:
            await lapse_all_due(stores)
        except Exception:
            # A failed round (database briefly down) must not end the timer.
            log.exception("lapsing timed consents failed; retrying next interval")
        await asyncio.sleep(interval.total_seconds())
