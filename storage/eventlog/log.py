"""The log table's contract: an event is written in the transaction of its change, and
read back per owner, decoded, in the order the changes committed.

The table `me_image_event` is the source of truth. A wake-up only says "read from your
cursor": in-process right after a commit (`fanout.EventNotifier.notify`), and across
instances through PostgreSQL NOTIFY, sent inside the writing transaction so it is
delivered exactly when the event becomes visible (see `listen`).

The ordering trap. PostgreSQL hands out `seq` when a row is inserted, not when it
commits, so a transaction can commit a higher seq while a lower one is still in flight.
A reader that advanced a cursor past the higher seq would never see the lower one.
We defeat it per owner: every reader reads one owner's log (owner + space) with a
per-owner cursor, and every insert into one owner's log is serialized by a lock held
until commit (the resolvers' owner-row lock, and `append_event`'s own advisory lock so
the rule holds for any writer). Under that lock a transaction takes its seq only after
the owner's previous writer committed, and the sequence only grows (CACHE 1, the
default), so within one owner's log seq order is commit order: whenever a reader sees
seq n, every lower seq of that owner is already visible. Other owners' transactions may
commit out of order, but no reader's cursor ever moves over their rows. SQLite takes the
database write lock (BEGIN IMMEDIATE) before the insert, so it never reorders at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import TableStatements
from storage.eventlog import snapshot
from storage.eventlog.forms import EventForms
from storage.eventlog.payload import EventPayload, EventType
from storage.eventlog.snapshot import ImageState
from storage.keys import FieldVault
from storage.tables import MeImageEvent, aware, utcnow

# The NOTIFY channel; the payload is the owner id (ids are at most 200 chars, far
# below NOTIFY's 8000-byte limit).
CHANNEL = "meimages_events"
# First key of the per-owner advisory lock (two-int form), apart from other users'.
_EVENT_LOCK_CLASS = 0x6D65
# Replay and catch-up read the log in pages of this many events.
PAGE = 500
# On the table, not the entity: the ORM's bulk insert bookkeeping costs more than the
# insert, and the writer holds the write lock meanwhile.
_INSERT_EVENTS = insert(MeImageEvent.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LoggedEvent:
    """One change of one image, decoded from its log row."""

    seq: int
    type: EventType
    owner_id: str
    space_id: str
    image_id: str
    created_at: datetime
    payload: EventPayload
    # What the image shows (from the payload, else from the image's state); None only
    # if the image's data was purged.
    kind: str | None
    # The image as the change left it; None for deletions and purged images.
    image: ImageState | None
    # What the floors above make of this event, each made once (see `forms`).
    forms: EventForms = field(default_factory=EventForms, compare=False, repr=False)


async def append_event(
    session: AsyncSession,
    *,
    owner_id: str,
    space_id: str,
    type: EventType,
    image_id: str,
    payload: EventPayload | None = None,
) -> MeImageEvent:
    """Write an event in the caller's transaction, so it commits with the change or not at
    all, with the image's state as the change left it."""
    postgres = _dialect(session) == "postgresql"
    if postgres:
        # Serialize this owner's event inserts until commit (see the module docstring).
        # Callers already hold the owner row lock, so this never waits in practice.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, hashtext(:owner))"),
            {"cls": _EVENT_LOCK_CLASS, "owner": owner_id},
        )
    state = (await snapshot.capture(session, [image_id], live_only=True)).get(image_id)
    row = MeImageEvent(
        owner_id=owner_id,
        space_id=space_id,
        type=type.value,
        image_id=image_id,
        payload=(payload or EventPayload()).encode(type),
        created_at=utcnow(),
        image=state,
    )
    session.add(row)
    await session.flush()
    if postgres:
        # Delivered at commit, never for a rolled-back change; repeats within one
        # transaction are folded into one by PostgreSQL.
        await session.execute(
            text("SELECT pg_notify(:channel, :owner)"), {"channel": CHANNEL, "owner": owner_id}
        )
    return row


@dataclass(frozen=True)
class NewEvent:
    """An event to write, with the image's state as the change left it (an encoded
    snapshot, see `snapshot.encode`; None for deletions)."""

    owner_id: str
    space_id: str
    type: EventType
    image_id: str
    payload: EventPayload
    image: dict[str, Any] | None


async def append_events(statements: TableStatements, events: Sequence[NewEvent]) -> None:
    """Write a transaction's events in one statement, just before it commits.

    Same contract as `append_event`, in fewer round trips: on PostgreSQL one statement
    takes every owner's advisory lock and queues their NOTIFYs (delivered at commit), then
    one multi-row INSERT writes the rows in the order they were made. Both on the
    transaction's connection: the hot writes end here.
    """
    if not events:
        return
    if statements.dialect == "postgresql":
        owners = list(dict.fromkeys(e.owner_id for e in events))
        locks = ", ".join(
            f"pg_advisory_xact_lock(:cls, hashtext(:o{n})), pg_notify(:channel, :o{n})"
            for n in range(len(owners))
        )
        await statements.execute(
            text(f"SELECT {locks}"),
            {"cls": _EVENT_LOCK_CLASS, "channel": CHANNEL}
            | {f"o{n}": owner for n, owner in enumerate(owners)},
        )
    now = utcnow()
    await statements.send(
        _INSERT_EVENTS,
        [
            {
                "owner_id": e.owner_id,
                "space_id": e.space_id,
                "type": e.type.value,
                "image_id": e.image_id,
                "payload": e.payload.encode(e.type),
                "created_at": now,
                "image": e.image,
            }
            for e in events
        ],
    )


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def read_events(
    session: AsyncSession,
    vault: FieldVault,
    owner_id: str,
    space_id: str,
    after: int,
    limit: int = PAGE,
) -> list[LoggedEvent]:
    """One owner's events in one space with seq > after, oldest first, decoded; one
    extra query at most per page, never per event."""
    rows = (
        (
            await session.execute(
                select(MeImageEvent)
                .where(
                    col(MeImageEvent.owner_id) == owner_id,
                    col(MeImageEvent.space_id) == space_id,
                    col(MeImageEvent.seq) > after,
                )
                .order_by(col(MeImageEvent.seq))
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    deleted = EventType.DELETED.value
    # Only events written before snapshots existed lack one; they show the image's
    # stored state instead.
    switch = EventType.AI_SWITCH_CHANGED.value
    missing = {r.image_id for r in rows if r.image is None and r.type not in (deleted, switch)}
    current = await snapshot.capture(session, missing, live_only=False)
    events: list[LoggedEvent] = []
    for row in rows:
        assert row.seq is not None
        data = row.image or (
            current.get(row.image_id) if row.type not in (deleted, switch) else None
        )
        state = None
        if data is not None:
            state = await snapshot.decode(
                session, vault, data, owner_id=row.owner_id, image_id=row.image_id
            )
        payload = EventPayload.decode(row.payload)
        events.append(
            LoggedEvent(
                seq=row.seq,
                type=EventType(row.type),
                owner_id=row.owner_id,
                space_id=row.space_id,
                image_id=row.image_id,
                created_at=aware(row.created_at),
                payload=payload,
                kind=payload.kind or (state.kind if state else None),
                image=state,
            )
        )
    return events


async def head_seq(session: AsyncSession, owner_id: str, space_id: str) -> int:
    """The seq of the newest event in one owner's space (0 when there is none)."""
    value = await session.scalar(
        select(func.max(col(MeImageEvent.seq))).where(
            col(MeImageEvent.owner_id) == owner_id,
            col(MeImageEvent.space_id) == space_id,
        )
    )
    return int(value or 0)
