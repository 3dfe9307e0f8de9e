"""The event payload's keys are written and read in one place, old spellings included."""

from __future__ import annotations

import uuid
from typing import Any

from resolvers.events import cursors, feed
from resolvers.pool.me_images import Kind, Slot
from resolvers.stores import Caller, Stores
from storage.eventlog.payload import EventPayload, EventType
from storage.tables import MeImageEvent, utcnow
from tests.events.conftest import new_owner
from tests.support.app import Api


def test_each_type_writes_its_own_keys_and_reads_them_back() -> None:
    deleted = EventPayload(kind="face", previous_slot="avatar")
    assert deleted.encode(EventType.DELETED) == {"kind": "face", "previous_slot": "avatar"}
    assert EventPayload.decode(deleted.encode(EventType.DELETED)) == deleted
    lost = EventPayload(previous_slot="face-ref")
    assert lost.encode(EventType.PRIMARY_CHANGED) == {"slot": None, "previous_slot": "face-ref"}
    assert EventPayload.decode(lost.encode(EventType.PRIMARY_CHANGED)) == lost
    for type_, payload in (
        (EventType.ADDED, EventPayload(kind="hands")),
        (EventType.UPDATED, EventPayload(fields=("label", "tags", "show_in_profile"))),
        (EventType.AI_REFERENCE_TOGGLED, EventPayload(enabled=False)),
    ):
        assert EventPayload.decode(payload.encode(type_)) == payload
    assert EventPayload.decode(None) == EventPayload()


async def test_rows_written_by_earlier_versions_still_decode(api: Api) -> None:
    """Earlier versions wrote the previous slot as `previous` (deletions even earlier as
    `previousSlot`), every slot change with an explicit null `slot`, and the changed
    fields by their API names; such rows stay in existing databases until pruned."""
    stores: Stores = api.app.state.server.stores
    owner = new_owner()
    start = await cursors.head_cursor(stores, Caller(owner))
    image_id = str(uuid.uuid4())
    legacy: list[tuple[str, dict[str, Any]]] = [
        ("MeImagePrimaryChanged", {"slot": None, "previous": "face-ref"}),
        ("MeImageDeleted", {"kind": "hands", "previousSlot": "avatar"}),
        ("MeImageUpdated", {"fields": ["label", "tags", "showInProfile"]}),
    ]
    async with stores.db.transaction() as session:
        for type_, payload in legacy:
            session.add(
                MeImageEvent(
                    owner_id=owner,
                    space_id="personal",
                    type=type_,
                    image_id=image_id,
                    payload=payload,
                    created_at=utcnow(),
                    image=None,
                )
            )
    stores.notifier.notify(owner)
    replay = feed.follow(stores, Caller(owner), start)
    changed, deleted, updated = [await anext(replay) for _ in legacy]
    await replay.aclose()
    assert (changed.slot, changed.previous_slot) == (None, Slot.FACE_REF)
    assert (deleted.kind, deleted.previous_slot, deleted.image) == (Kind.HANDS, Slot.AVATAR, None)
    assert updated.fields == ("label", "tags", "show_in_profile")
