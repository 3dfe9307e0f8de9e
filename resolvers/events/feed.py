"""Live changes of the pool: following an owner's log as events (cursors: `cursors`).

Reading goes through `storage.eventlog`: a replay from the caller's cursor, then live
events from the one reader this process keeps per owner log, which reads and decodes
each event once, so the database work per event does not grow with the number of
subscribers. Here an already decoded event only takes the pool's domain types, once
per logged event: the domain event is a form of the shared logged event (see
`storage.eventlog.forms`), and carries its forms up for the floors above.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import datetime

from resolvers.events.cursors import CursorTooOld, decode_cursor, encode_cursor
from resolvers.media.uploads import Media
from resolvers.pool.me_images import EventType, Image, Kind, Slot
from resolvers.stores import Caller, Stores
from storage.eventlog.fanout import QUEUE_LIMIT as QUEUE_LIMIT
from storage.eventlog.fanout import DeadlineReached as DeadlineReached
from storage.eventlog.forms import EventForms as EventForms  # declared with the log
from storage.eventlog.forms import Form as Form
from storage.eventlog.forms import FormsRef as FormsRef
from storage.eventlog.forms import made as made
from storage.eventlog.forms import no_forms
from storage.eventlog.log import LoggedEvent
from storage.eventlog.retention import EventsPruned
from storage.eventlog.snapshot import ImageState


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
    # AI_REFERENCE_TOGGLED: the opt-in lapsed at its `until` rather than being switched.
    expired: bool
    # UPDATED: the image's fields that changed, by their domain names.
    fields: tuple[str, ...]
    created_at: datetime
    # The logged event's forms (each floor adds its own, made once), weakly.
    forms: FormsRef = field(default=no_forms, compare=False, repr=False)

    @property
    def cursor(self) -> str:
        return encode_cursor(self.seq)


async def follow(
    stores: Stores, caller: Caller, after: str | None, until: float | None = None
) -> AsyncGenerator[Event, None]:
    """The caller's events in the active space after `after` (from now if None), each
    once, oldest first, without end, or until `until` (the event loop's clock), where it
    raises DeadlineReached. Raises CursorTooOld or InvalidInput."""
    start = decode_cursor(after) if after is not None else None
    stream = stores.notifier.follow(
        stores.db, stores.vault, caller.owner_id, caller.space_id, start, until
    )
    try:
        async for logged in stream:
            yield domain_event(logged)
    except EventsPruned as exc:
        raise CursorTooOld() from exc
    finally:
        await stream.aclose()


async def position(stores: Stores, caller: Caller) -> int:
    """The log position `follow` without a cursor would start after, now."""
    return await stores.notifier.position(stores.db, caller.owner_id, caller.space_id)


def start_of(after: str) -> int:
    """The log position of a cursor. Raises InvalidInput."""
    return decode_cursor(after)


# The feed hands every subscriber of an owner the same logged event; its domain form is
# one of its forms, so it is made once too.
_DOMAIN: Form[Event] = Form("domain event")


def domain_event(logged: LoggedEvent) -> Event:
    """The domain form of a logged event, made once per event."""
    return logged.forms.made(_DOMAIN, lambda: _event(logged))


def _event(logged: LoggedEvent) -> Event:
    payload = logged.payload
    return Event(
        seq=logged.seq,
        type=logged.type,
        owner_id=logged.owner_id,
        space_id=logged.space_id,
        image_id=logged.image_id,
        kind=Kind(logged.kind) if logged.kind else None,
        image=_image(logged, logged.image) if logged.image else None,
        slot=Slot(payload.slot) if payload.slot else None,
        previous_slot=Slot(payload.previous_slot) if payload.previous_slot else None,
        enabled=payload.enabled,
        expired=payload.expired,
        fields=payload.fields,
        created_at=logged.created_at,
        forms=weakref.ref(logged.forms),
    )


def _image(logged: LoggedEvent, state: ImageState) -> Image | None:
    if state.encrypted is None:
        return None  # its encrypted fields are gone with the owner's key
    media = state.media
    return Image(
        id=logged.image_id,
        owner_id=logged.owner_id,
        space_id=logged.space_id,
        kind=Kind(state.kind),
        encrypted=state.encrypted,
        media=Media(
            id=media.id,
            owner_id=logged.owner_id,
            content_type=media.content_type,
            byte_size=media.byte_size,
            width=media.width,
            height=media.height,
            storage_path=media.storage_path,
            thumbnail_path=media.thumbnail_path,
            created_at=media.created_at,
            sha256=media.sha256,
            object_id=media.object_id,
            medium_path=media.medium_path,
        ),
        ai_reference=state.ai_reference,
        ai_reference_until=state.ai_reference_until,
        show_in_profile=state.show_in_profile,
        primary_for=Slot(state.primary_for) if state.primary_for else None,
        created_at=state.created_at,
        updated_at=state.updated_at,
    )
