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

from resolvers.generation.ledger import Sending
from resolvers.generation.pricing import catalogue
from resolvers.generation.recipients import recipient_of
from resolvers.stores import Caller, Stores
from storage.tables import (
    GenerationRecord,
    GenerationStatus,
    ReferenceUse,
    UseOutcome,
    aware,
    utcnow,
)

log = logging.getLogger("meimages.generation")

INTERRUPTED = "interrupted"
BATCH = 500


async def release_interrupted(
    stores: Stores, *, now: datetime | None = None, limit: int = BATCH
) -> int:
    """One round: fail stale pending generations (at most `limit`); returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=stores.config.generation.stale_after_s)
    async with stores.reading() as read:
        stale = await read.generations.stale(cutoff, limit)
    released = 0
    for generation_id, owner_id in stale:
        if await _release_one(stores, generation_id, owner_id, cutoff, now):
            released += 1
    return released


async def _release_one(
    stores: Stores, generation_id: str, owner_id: str, cutoff: datetime, now: datetime
) -> bool:
    """Fail one generation if, under the owner lock, it is still pending and stale."""
    async with stores.transaction() as tx:
        await tx.owners.lock(owner_id)
        record = await tx.generations.get(generation_id, fresh=True)
        if record is None or record.status != GenerationStatus.PENDING.value:
            return False
        beat = record.heartbeat_at
        if aware(beat) >= cutoff:
            return False  # renewed since we looked: its call is alive after all
        record.status = GenerationStatus.FAILED.value
        record.failure = INTERRUPTED
        record.credits_held = 0
        record.completed_at = now
        tx.generations.save(record)
        # Its references may have reached the provider before the process died.
        tx.uses.record(_maybe_sent(stores, record, now))
    log.warning(
        "generation %s of %s was interrupted (no heartbeat since %s); hold released",
        generation_id,
        owner_id,
        beat.isoformat(),
    )
    return True


def _maybe_sent(stores: Stores, record: GenerationRecord, now: datetime) -> list[ReferenceUse]:
    model = catalogue(stores.config.generation).get(record.model_requested)
    if model is None:
        return []
    sending = Sending(recipient_of(stores.config.generation, model), record.reference_ids)
    caller = Caller(record.owner_id, record.space_id)
    return sending.rows(caller, record.id, model.id, UseOutcome.INTERRUPTED, now)


async def release_interrupted_periodically(stores: Stores, *, interval: timedelta) -> None:
    """The sweeper on a timer, for as long as the server runs (cancelled on shutdown)."""
    while True:
        try:
            await release_interrupted(stores)
        except Exception:
            # A failed round (database briefly down) must not end the timer.
            log.exception("releasing interrupted generations failed; retrying next interval")
        await asyncio.sleep(interval.total_seconds())
