"""The event log as the domain writes and positions it (the log itself: storage.eventlog)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.eventlog.log import append_event, head_seq
from storage.eventlog.payload import EventPayload, EventType
from storage.eventlog.retention import pruned_through


class EventLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(
        self, owner_id: str, space_id: str, type: EventType, image_id: str, payload: EventPayload
    ) -> None:
        """Log a change in the transaction of the change."""
        await append_event(
            self._session,
            owner_id=owner_id,
            space_id=space_id,
            type=type,
            image_id=image_id,
            payload=payload,
        )

    async def resume_point(self, owner_id: str, space_id: str) -> int:
        """Where a reader of the owner's space starts from now: its newest event, or the
        retention horizon if that is later (an owner whose events were all pruned
        resumes from the horizon, not from 0, which would be "too old" forever)."""
        return max(
            await head_seq(self._session, owner_id, space_id),
            await pruned_through(self._session),
        )
