"""Releases the credit holds of generations whose process died mid-call.

A running call renews its generation's heartbeat (see service._kept_alive). A pending
generation whose heartbeat is older than `stale_after_s` has nobody left to finish it:
the sweeper marks it failed ("interrupted"), which releases its hold at once instead of
when the hold lapses. Safe on every instance at once: each row is re-checked under the
owner lock, so a generation is failed once and never after it finished.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from resolvers.generation.credits import GenerationStatus
from resolvers.owners import lock_owner
from resolvers.stores import Stores
from storage.tables import GenerationRecord, utcnow

log = logging.getLogger("meimages.generation")

INTERRUPTED = "interrupted"
BATCH = 500


async def release_interrupted(
    stores: Stores, *, now: datetime | None = None, limit: int = BATCH
) -> int:
    """One round: fail stale pending generations (at most `limit`); returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=stores.generation.stale_after_s)
    async with stores.db.session() as session:
        stale = (
            await session.execute(
                select(GenerationRecord.id, GenerationRecord.owner_id)  # type: ignore[call-overload]
                .where(
                    GenerationRecord.status == GenerationStatus.PENDING.value,
                    GenerationRecord.heartbeat_at < cutoff,
                )
                .order_by(GenerationRecord.heartbeat_at)
                .limit(limit)
            )
        ).all()
    released = 0
    for generation_id, owner_id in stale:
        async with stores.db.transaction() as session:
            await lock_owner(session, owner_id)
            record = await session.get(GenerationRecord, generation_id, populate_existing=True)
            if record is None or record.status != GenerationStatus.PENDING.value:
                continue
            beat = record.heartbeat_at
            if (beat if beat.tzinfo is not None else beat.replace(tzinfo=now.tzinfo)) >= cutoff:
                continue  # renewed since we looked: its call is alive after all
            record.status = GenerationStatus.FAILED.value
            record.failure = INTERRUPTED
            record.credits_held = 0
            record.completed_at = now
            session.add(record)
            released += 1
            log.warning(
                "generation %s of %s was interrupted (no heartbeat since %s); hold released",
                generation_id,
                owner_id,
                beat.isoformat(),
            )
    return released


async def release_interrupted_periodically(stores: Stores, *, interval: timedelta) -> None:
    """The sweeper on a timer, for as long as the server runs (cancelled on shutdown)."""
    while True:
        try:
            await release_interrupted(stores)
        except Exception:
            # A failed round (database briefly down) must not end the timer.
            log.exception("releasing interrupted generations failed; retrying next interval")
        await asyncio.sleep(interval.total_seconds())
