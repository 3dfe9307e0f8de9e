"""The event log of pool changes and the in-process wake-up of its readers."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import MeImageEvent, utcnow


async def append_event(
    session: AsyncSession,
    *,
    owner_id: str,
    space_id: str,
    type: str,
    image_id: str,
    payload: dict[str, Any] | None = None,
) -> MeImageEvent:
    """Write an event in the caller's transaction, so it commits with the change or not at all."""
    row = MeImageEvent(
        owner_id=owner_id,
        space_id=space_id,
        type=type,
        image_id=image_id,
        payload=payload or {},
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


class EventNotifier:
    """Wakes readers of an owner's log after a commit; the log stays the source of truth."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def subscribe(self, owner_id: str) -> asyncio.Event:
        wake = asyncio.Event()
        self._waiters[owner_id].add(wake)
        return wake

    def unsubscribe(self, owner_id: str, wake: asyncio.Event) -> None:
        waiters = self._waiters.get(owner_id)
        if waiters is not None:
            waiters.discard(wake)
            if not waiters:
                del self._waiters[owner_id]

    def notify(self, owner_id: str) -> None:
        for wake in self._waiters.get(owner_id, ()):
            wake.set()
