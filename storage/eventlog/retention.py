"""How long events stay: pruning old ones, and the horizon below which cursors are too old."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import Database
from storage.tables import EventLogHorizon, MeImageEvent, Owner, utcnow

log = logging.getLogger("meimages.events")


class EventsPruned(Exception):
    """A reader's cursor lies below the retention horizon: events after it may be gone."""

    def __init__(self, cursor: int, horizon: int) -> None:
        super().__init__(f"events after {cursor} were pruned up to {horizon}")
        self.cursor = cursor
        self.horizon = horizon


async def pruned_through(session: AsyncSession) -> int:
    """Every event with seq at or below this is gone from the log."""
    value = await session.scalar(
        select(col(EventLogHorizon.pruned_through)).where(col(EventLogHorizon.id) == 1)
    )
    return int(value or 0)


async def prune_events(db: Database, older_than: datetime) -> int:
    """Delete events created before `older_than` and raise the horizon; returns the count."""
    async with db.transaction() as session:
        newest = await session.scalar(select(func.max(col(MeImageEvent.seq))))
        if newest is None:
            return 0
        # The newest event always stays: SQLite numbers a new row max(seq) + 1, so an
        # empty table would hand out old numbers again and cursors would skip them.
        horizon = await session.scalar(
            select(func.max(col(MeImageEvent.seq))).where(
                col(MeImageEvent.created_at) < older_than,
                col(MeImageEvent.seq) < newest,
            )
        )
        if horizon is None:
            return 0
        # Raise the horizon before rows disappear, in the same transaction.
        await session.execute(
            update(EventLogHorizon)
            .where(col(EventLogHorizon.id) == 1)
            .values(
                pruned_through=case(
                    (col(EventLogHorizon.pruned_through) < horizon, horizon),
                    else_=col(EventLogHorizon.pruned_through),
                )
            )
        )
        result = await session.execute(delete(MeImageEvent).where(col(MeImageEvent.seq) <= horizon))
        # A new horizon changes what `meImageEventCursor` answers for quiet owners, so
        # every cached answer keyed on an owner's data version must be refreshed.
        await session.execute(update(Owner).values(data_version=col(Owner.data_version) + 1))
        return int(getattr(result, "rowcount", 0) or 0)


class RetentionSweeper:
    """Prunes events older than the retention period, now and then."""

    def __init__(self, db: Database, retention: timedelta, *, every: float = 3600.0) -> None:
        self._db = db
        self._retention = retention
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                count = await prune_events(self._db, utcnow() - self._retention)
                if count:
                    log.info("pruned %d events older than %s", count, self._retention)
            except Exception:
                log.exception("pruning the event log failed")
            await asyncio.sleep(self._every)
