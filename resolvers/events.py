"""Live changes of the pool: opaque cursors, the log decoded into events, and following it.

Reading goes through `storage.events`: a replay from the caller's cursor, then live
events from the one reader this process keeps per owner log, so the database work per
event does not grow with the number of subscribers.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.errors import DomainError, InvalidInput
from resolvers.me_images import EventType, Image, Kind, Slot
from resolvers.media import Media
from resolvers.stores import Caller, Stores
from storage import events as log_store
from storage.crypto import DecryptionError
from storage.tables import MeImageEvent

log = logging.getLogger("meimages.events")

_CURSOR_PREFIX = "me1:"


class CursorTooOld(DomainError):
    code = "CURSOR_TOO_OLD"

    def __init__(self) -> None:
        super().__init__(
            "events after this cursor are no longer kept: refetch the pool, then subscribe "
            "again with the cursor from meImageEventCursor"
        )


@dataclass(frozen=True)
class Event:
    """One change of one image, as the log recorded it."""

    seq: int
    type: EventType
    owner_id: str
    space_id: str
    image_id: str
    kind: Kind | None
    image: Image | None
    slot: Slot | None
    previous_slot: Slot | None
    enabled: bool | None
    fields: tuple[str, ...]
    created_at: datetime

    @property
    def cursor(self) -> str:
        return encode_cursor(self.seq)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The log position of a cursor; opaque to clients, so anything else is bad input."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    number = raw.removeprefix(_CURSOR_PREFIX)
    if not raw.startswith(_CURSOR_PREFIX) or not number.isdigit() or len(number) > 19:
        raise InvalidInput("not a cursor of this server", field="after")
    return int(number)


async def head_cursor(stores: Stores, caller: Caller) -> str:
    """The cursor of the caller's newest event in the active space."""
    async with stores.db.session() as session:
        head = await log_store.head_seq(session, caller.owner_id, caller.space_id)
        # An owner whose events were all pruned resumes from the horizon, not from 0
        # (which would be "too old" forever).
        return encode_cursor(max(head, await log_store.pruned_through(session)))


async def follow(stores: Stores, caller: Caller, after: str | None) -> AsyncGenerator[Event, None]:
    """The caller's events in the active space after `after` (from now if None), each
    once, oldest first, without end. Raises CursorTooOld or InvalidInput."""
    start = decode_cursor(after) if after is not None else None
    stream = stores.notifier.follow(
        stores.db, caller.owner_id, caller.space_id, start, partial(decode_page, stores)
    )
    try:
        async for event in stream:
            yield event
    except log_store.EventsPruned as exc:
        raise CursorTooOld() from exc
    finally:
        await stream.aclose()


async def decode_page(
    stores: Stores, session: AsyncSession, rows: Sequence[MeImageEvent]
) -> list[Event]:
    """Log rows to events; one extra query at most per page, never per event."""
    deleted = EventType.DELETED.value
    # Only events written before image snapshots existed lack one; show those with the
    # image's stored state instead.
    missing = {r.image_id for r in rows if r.image is None and r.type != deleted}
    current = await log_store.image_snapshots(session, missing, live_only=False)
    result: list[Event] = []
    for row in rows:
        snapshot = row.image or (current.get(row.image_id) if row.type != deleted else None)
        image = await _image(stores, session, row, snapshot) if snapshot else None
        payload = row.payload or {}
        kind = payload.get("kind") or (snapshot or {}).get("kind")
        previous = payload.get("previous", payload.get("previousSlot"))
        assert row.seq is not None
        result.append(
            Event(
                seq=row.seq,
                type=EventType(row.type),
                owner_id=row.owner_id,
                space_id=row.space_id,
                image_id=row.image_id,
                kind=Kind(kind) if kind else None,
                image=image,
                slot=Slot(payload["slot"]) if payload.get("slot") else None,
                previous_slot=Slot(previous) if previous else None,
                enabled=payload.get("enabled"),
                fields=tuple(payload.get("fields", ())),
                created_at=log_store.aware(row.created_at),
            )
        )
    return result


async def _image(
    stores: Stores, session: AsyncSession, row: MeImageEvent, snapshot: dict[str, Any]
) -> Image | None:
    try:
        label = await _decrypt(stores, session, row, "label", snapshot["label_ct"])
        tags = await _decrypt(stores, session, row, "tags", snapshot["tags_ct"])
    except DecryptionError:
        # The owner's key is gone (crypto-shredded): the event stays, its image cannot.
        log.warning("event %s: the image's label or tags cannot be decrypted", row.seq)
        return None
    media = snapshot["media"]
    return Image(
        id=row.image_id,
        owner_id=row.owner_id,
        space_id=row.space_id,
        kind=Kind(snapshot["kind"]),
        label=label if isinstance(label, str) else None,
        tags=list(tags) if isinstance(tags, list) else [],
        media=Media(
            id=media["id"],
            owner_id=row.owner_id,
            content_type=media["content_type"],
            byte_size=media["byte_size"],
            width=media["width"],
            height=media["height"],
            storage_path=media["storage_path"],
            thumbnail_path=media["thumbnail_path"],
            created_at=datetime.fromisoformat(media["created_at"]),
            sha256=media.get("sha256", ""),
            object_id=media.get("object_id", ""),
            medium_path=media.get("medium_path"),
        ),
        ai_reference=bool(snapshot["ai_reference"]),
        show_in_profile=bool(snapshot["show_in_profile"]),
        primary_for=Slot(snapshot["primary_for"]) if snapshot["primary_for"] else None,
        created_at=datetime.fromisoformat(snapshot["created_at"]),
        updated_at=datetime.fromisoformat(snapshot["updated_at"]),
    )


async def _decrypt(
    stores: Stores, session: AsyncSession, row: MeImageEvent, field: str, value: str | None
) -> object:
    blob = log_store.snapshot_bytes(value)
    if blob is None:
        return None
    # The snapshot holds the image row's own ciphertext, bound to that row and field.
    return await stores.vault.decrypt(
        session,
        owner_id=row.owner_id,
        table="me_image",
        field=field,
        row_id=row.image_id,
        blob=blob,
    )
