"""The event log as the domain writes and positions it (the log itself: storage.eventlog)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import TableStatements
from storage.eventlog import snapshot
from storage.eventlog.log import NewEvent, append_events, head_seq
from storage.eventlog.payload import EventPayload, EventType
from storage.eventlog.retention import pruned_through
from storage.tables import MeImage, MeImageEvent

# `append`'s default: read the image's state from the database.
CAPTURE: Any = object()


class EventLogRepository:
    def __init__(self, session: AsyncSession, statements: TableStatements | None = None) -> None:
        self._session = session
        self._statements = statements if statements is not None else TableStatements(session)
        self._pending: list[NewEvent] = []

    async def append(
        self,
        owner_id: str,
        space_id: str,
        type: EventType,
        image_id: str,
        payload: EventPayload,
        *,
        image: dict[str, Any] | None = CAPTURE,
    ) -> None:
        """Log a change in the transaction of the change; written by `write_pending`
        when the transaction ends. `image`: the image's state as the change left it
        (`snapshot.encode`), when the caller has it in hand; else it is read now."""
        if image is CAPTURE:
            states = await snapshot.capture(self._session, [image_id], live_only=True)
            image = states.get(image_id)
        self._pending.append(NewEvent(owner_id, space_id, type, image_id, payload, image))

    async def spaces_of(self, owner_id: str) -> set[str]:
        """The spaces the owner has images or logged events in (where readers may be)."""
        query = union(
            select(col(MeImage.space_id)).where(col(MeImage.owner_id) == owner_id),
            select(col(MeImageEvent.space_id)).where(col(MeImageEvent.owner_id) == owner_id),
        )
        return set((await self._session.execute(query)).scalars().all())

    async def write_pending(self) -> None:
        """Write the logged changes, all in one statement (see `append_events`)."""
        pending, self._pending = self._pending, []
        await append_events(self._statements, pending)

    async def resume_point(self, owner_id: str, space_id: str) -> int:
        """Where a reader of the owner's space starts from now: its newest event, or the
        retention horizon if that is later (an owner whose events were all pruned
        resumes from the horizon, not from 0, which would be "too old" forever)."""
        return max(
            await head_seq(self._session, owner_id, space_id),
            await pruned_through(self._session),
        )
