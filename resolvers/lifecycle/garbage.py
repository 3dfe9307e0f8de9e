"""Garbage collection: how bytes leave, without a row ever losing its blob.

The collector deletes the bytes of blobs that have been orphaned for longer than a
grace period, holding the blob's registration locked while it does, so an upload that
reuses the key either finds its registration gone and writes again, or keeps it alive
in time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from resolvers.stores import Stores
from storage.tables import aware, utcnow

log = logging.getLogger("meimages.purge")

_GC_BATCH = 100
# Untracked keys found by a sweep are registered in chunks of this many.
_SWEEP_CHUNK = 500


@dataclass
class GcReport:
    blobs_deleted: int = 0
    still_referenced: int = 0
    untracked_registered: int = 0
    incomplete_removed: int = 0
    deleted_keys: list[str] = field(default_factory=list)


async def collect_garbage(
    stores: Stores,
    *,
    grace: timedelta,
    owner_id: str | None = None,
    sweep: bool = False,
    now: datetime | None = None,
) -> GcReport:
    """Delete the bytes of blobs orphaned for longer than `grace`, then their registrations.

    With `sweep`, first walk the whole store and register blobs the registry does not
    know (left by older versions or by hand) as orphans, so a later run can remove them.
    """
    report = GcReport()
    now = now or utcnow()
    if sweep:
        report.untracked_registered = await _register_untracked(stores, now)
    cutoff = now - grace
    after = ""
    while True:
        async with stores.reading() as read:
            batch = await read.blobs.orphaned_since(
                cutoff, after=after, limit=_GC_BATCH, owner_id=owner_id
            )
        if not batch:
            break
        after = batch[-1]
        await _collect_batch(stores, batch, cutoff, report)
    report.incomplete_removed = await stores.blobs.discard_incomplete(cutoff)
    return report


async def collect_released(stores: Stores, keys: list[str], *, now: datetime) -> int:
    """Delete the bytes of these keys now if they are orphaned and unreferenced, without a
    grace period: only for keys no writer can be reusing (names of the plaintext era,
    which nothing writes any more). Returns how many were deleted."""
    report = GcReport()
    for start in range(0, len(keys), _GC_BATCH):
        await _collect_batch(stores, sorted(keys)[start : start + _GC_BATCH], now, report)
    return report.blobs_deleted


async def _collect_batch(
    stores: Stores, keys: list[str], cutoff: datetime, report: GcReport
) -> None:
    async with stores.transaction() as tx:
        # Locked in key order, like every other writer of registrations.
        locked = await tx.blobs.lock(keys)
        due = [
            blob.key
            for blob in locked
            if blob.orphaned_at is not None and aware(blob.orphaned_at) <= cutoff
        ]
        if not due:
            return
        referenced = await tx.blobs.referenced(due)
        if referenced:
            # A registration that lost track of its reference: repair it, never delete.
            log.warning("blobs marked orphaned are still referenced: %s", sorted(referenced))
            await tx.blobs.mark_referenced(referenced)
            report.still_referenced += len(referenced)
        doomed = [key for key in due if key not in referenced]
        # Bytes first, registration second, both under the lock: if we crash in between,
        # the registration stays and the next run deletes (already missing) bytes again.
        await asyncio.gather(*(stores.blobs.delete(key) for key in doomed))
        await tx.blobs.forget(doomed)
        report.blobs_deleted += len(doomed)
        report.deleted_keys += doomed


async def _register_untracked(stores: Stores, now: datetime) -> int:
    registered = 0
    chunk: list[str] = []
    async for info in stores.blobs.list_blobs():
        chunk.append(info.key)
        if len(chunk) >= _SWEEP_CHUNK:
            registered += await _register_chunk(stores, chunk, now)
            chunk = []
    if chunk:
        registered += await _register_chunk(stores, chunk, now)
    return registered


async def _register_chunk(stores: Stores, keys: list[str], now: datetime) -> int:
    async with stores.transaction() as tx:
        return await tx.blobs.register_untracked(keys, now)


async def collect_garbage_periodically(
    stores: Stores, *, interval: timedelta, grace: timedelta
) -> None:
    """The collector on a timer, for as long as the server runs (cancelled on shutdown)."""
    while True:
        await asyncio.sleep(interval.total_seconds())
        try:
            report = await collect_garbage(stores, grace=grace)
            if report.blobs_deleted or report.incomplete_removed:
                log.info(
                    "garbage collector removed %d blobs and %d incomplete writes",
                    report.blobs_deleted,
                    report.incomplete_removed,
                )
        except Exception:
            # A failed round (database or store briefly down) must not end the timer.
            log.exception("garbage collection failed; retrying at the next interval")
