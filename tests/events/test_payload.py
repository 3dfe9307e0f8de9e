"""The event payload's keys are written and read in one place, old spellings included."""

from __future__ import annotations

import asyncio
import gc
import uuid
import weakref
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from resolvers.events import cursors, feed
from resolvers.pool.me_images import Kind, Slot
from resolvers.stores import Caller, Stores
from schema.events.types import event_of
from storage.eventlog.log import LoggedEvent
from storage.eventlog.payload import EventPayload, EventType
from storage.tables import MeImageEvent, utcnow
from testbed.images import jpeg
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


UPDATE = """mutation($id: ID!) { updateMeImage(id: $id, input: {showInProfile: false, label: "x"}) {
  __typename } }"""


async def test_changed_fields_are_logged_by_domain_names_and_shown_by_api_names(
    api: Api,
) -> None:
    """The log spells a changed field as the domain does; the schema shows it as the API
    does, for new rows and for rows that earlier versions logged with the API's name."""
    stores: Stores = api.app.state.server.stores
    owner = new_owner()
    image = str((await api.upload(jpeg(731), user=owner))["id"])
    start = await cursors.head_cursor(stores, Caller(owner))
    await api.gql(UPDATE, {"id": image}, user=owner)
    async with stores.db.transaction() as session:
        session.add(
            MeImageEvent(
                owner_id=owner,
                space_id="personal",
                type="MeImageUpdated",
                image_id=image,
                payload={"fields": ["showInProfile"]},
                created_at=utcnow(),
                image=None,
            )
        )
    stores.notifier.notify(owner)
    async with stores.db.session() as session:
        logged = (
            await session.execute(
                select(MeImageEvent.payload)  # type: ignore[call-overload]
                .where(col(MeImageEvent.owner_id) == owner)
                .where(col(MeImageEvent.type) == "MeImageUpdated")
                .order_by(col(MeImageEvent.seq))
            )
        ).scalars()
        assert next(iter(logged)) == {"fields": ["label", "show_in_profile"]}
    replay = feed.follow(stores, Caller(owner), start)
    new, old = [await anext(replay) for _ in range(2)]
    await replay.aclose()
    shown = [event_of(event) for event in (new, old)]
    assert [e.changed_fields for e in shown] == [["label", "showInProfile"], ["showInProfile"]]


async def test_every_follower_is_handed_one_object_per_event(api: Api) -> None:
    """Followers of one owner take the same event object, and so the same forms of it,
    also when one replays the event after another took it."""
    stores: Stores = api.app.state.server.stores
    owner = new_owner()
    image = str((await api.upload(jpeg(732), user=owner))["id"])
    start = await cursors.head_cursor(stores, Caller(owner))
    await api.gql(UPDATE, {"id": image}, user=owner)
    first = feed.follow(stores, Caller(owner), start)
    seen_first = await anext(first)
    # The first follower keeps the owner's feed open while the second replays the event.
    second = feed.follow(stores, Caller(owner), start)
    seen_second = await anext(second)
    await second.aclose()
    await first.aclose()
    assert seen_first is seen_second
    assert event_of(seen_first) is event_of(seen_second)


def test_an_event_and_its_forms_go_with_their_last_holder() -> None:
    """The forms of an event refer back to it only weakly: dropping the event frees them
    at once, without waiting for the cyclic garbage collector."""
    logged = LoggedEvent(
        seq=1,
        type=EventType.UPDATED,
        owner_id="owner",
        space_id="personal",
        image_id="image",
        created_at=utcnow(),
        payload=EventPayload(fields=("label",)),
        kind="face",
        image=None,
    )
    shown = event_of(feed.domain_event(logged))
    assert event_of(feed.domain_event(logged)) is shown
    forms = weakref.ref(logged.forms)
    gc.disable()
    try:
        del logged, shown
        assert forms() is None
    finally:
        gc.enable()


async def test_a_stream_hands_out_nothing_at_or_after_its_deadline(api: Api) -> None:
    """The token's end is a deadline of the stream itself: once reached, neither a replay
    nor a live event is handed out, and the stream says why."""
    stores: Stores = api.app.state.server.stores
    owner = new_owner()
    start = await cursors.head_cursor(stores, Caller(owner))
    await api.upload(jpeg(733), user=owner)
    loop = asyncio.get_running_loop()
    for after in (start, None):
        stream = feed.follow(stores, Caller(owner), after, until=loop.time())
        with pytest.raises(feed.DeadlineReached):
            await anext(stream)
        await stream.aclose()
    # Before the deadline the same replay hands the event out.
    stream = feed.follow(stores, Caller(owner), start, until=loop.time() + 3600)
    assert (await anext(stream)).type.value == "MeImageAdded"
    await stream.aclose()
