"""How many statements a write sends, on both databases: an N+1 or an extra round trip
in the write path shows up here as a changed list, not as a slower benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlmodel import col

from storage.tables import MeImage, MeImageEvent, aware
from testbed.images import jpeg
from tests.support.app import Api
from tests.support.sqlite_trips import record_trips

SET_PRIMARY = (
    "mutation($id: ID!, $slot: PrimarySlot) { setPrimary(id: $id, slot: $slot)"
    " { __typename ... on MeImage { id primaryFor } } }"
)
TOGGLE = (
    "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on)"
    " { __typename ... on MeImage { usage { aiReference } } } }"
)
UPDATE = (
    "mutation($id: ID!, $input: UpdateMeImageInput!) { updateMeImage(id: $id, input: $input)"
    " { __typename ... on MeImage { label kind } } }"
)


class Statements:
    """Statements the app's engine sent, by their first words, and its commits."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.commits = 0

    def on_execute(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Enough words to tell statements apart, cut at a call's arguments.
        self.sent.append(" ".join(statement.split()[:3]).split("(")[0].upper())

    def on_commit(self, _conn: Any) -> None:
        self.commits += 1


@contextmanager
def counted(api: Api) -> Iterator[Statements]:
    engine = api.stores.db.engine.sync_engine
    seen = Statements()
    event.listen(engine, "before_cursor_execute", seen.on_execute)
    event.listen(engine, "commit", seen.on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", seen.on_execute)
        event.remove(engine, "commit", seen.on_commit)


def expected(api: Api, *statements: str) -> list[str]:
    """The statements of one write transaction on the api's database: SQLite's writers
    send their BEGIN IMMEDIATE with the first statement, in the same trip to the driver
    (not a statement of its own: tests/storage/test_sqlite_writers.py); PostgreSQL's
    take the owner's event lock (and queue the NOTIFY) in one statement before the
    events are inserted."""
    listed = list(statements)
    if api.backend != "sqlite" and "INSERT INTO ME_IMAGE_EVENT" in listed:
        listed.insert(listed.index("INSERT INTO ME_IMAGE_EVENT"), "SELECT PG_ADVISORY_XACT_LOCK")
    return listed


async def two_images(api: Api, owner: str) -> list[str]:
    return [
        str((await api.upload(jpeg(300 + n, size=(48, 48)), user=owner))["id"]) for n in range(2)
    ]


async def test_a_slot_swap_is_five_statements_and_one_commit(api: Api, owner: str) -> None:
    first, second = await two_images(api, owner)
    await api.gql(SET_PRIMARY, {"id": first, "slot": "FACE_REF"}, user=owner)
    with counted(api) as seen:
        result = await api.gql(SET_PRIMARY, {"id": second, "slot": "FACE_REF"}, user=owner)
    assert result["setPrimary"] == {"__typename": "MeImage", "id": second, "primaryFor": "FACE_REF"}
    # The owner lock, the image and the holder in one read (with the image's ledger
    # totals: its answer shows useCount), the holder cleared, the image's claim, both
    # events in one insert.
    assert seen.sent == expected(
        api,
        "INSERT INTO OWNER",
        "SELECT ME_IMAGE.ID, ME_IMAGE.OWNER_ID,",
        "UPDATE ME_IMAGE SET",
        "UPDATE ME_IMAGE SET",
        "INSERT INTO ME_IMAGE_EVENT",
    )
    assert seen.commits == 1
    # The one insert wrote both events, the holder's loss first, each with its state.
    async with api.stores.db.session() as session:
        rows = (
            await session.execute(
                select(MeImageEvent)
                .where(col(MeImageEvent.owner_id) == owner)
                .order_by(col(MeImageEvent.seq).desc())
                .limit(2)
            )
        ).scalars()
        logged = [(r.image_id, r.payload, r.image["primary_for"]) for r in reversed(list(rows))]
    assert logged == [
        (first, {"slot": None, "previous_slot": "face-ref"}, None),
        (second, {"slot": "face-ref", "previous_slot": None}, "face-ref"),
    ]


async def test_clearing_a_slot_is_four_statements(api: Api, owner: str) -> None:
    first, _ = await two_images(api, owner)
    await api.gql(SET_PRIMARY, {"id": first, "slot": "AVATAR"}, user=owner)
    with counted(api) as seen:
        result = await api.gql(SET_PRIMARY, {"id": first, "slot": None}, user=owner)
    assert result["setPrimary"]["primaryFor"] is None
    assert seen.sent == expected(
        api,
        "INSERT INTO OWNER",
        "SELECT ME_IMAGE.ID, ME_IMAGE.OWNER_ID,",
        "UPDATE ME_IMAGE SET",
        "INSERT INTO ME_IMAGE_EVENT",
    )
    assert seen.commits == 1


async def test_the_ai_toggle_is_four_statements(api: Api, owner: str) -> None:
    first, _ = await two_images(api, owner)
    with counted(api) as seen:
        result = await api.gql(TOGGLE, {"id": first, "on": True}, user=owner)
    assert result["setAiReferenceEnabled"]["usage"] == {"aiReference": True}
    assert seen.sent == expected(
        api,
        "INSERT INTO OWNER",
        "SELECT ME_IMAGE.ID, ME_IMAGE.OWNER_ID,",
        "UPDATE ME_IMAGE SET",
        "INSERT INTO ME_IMAGE_EVENT",
    )
    assert seen.commits == 1
    # The one UPDATE wrote the row, and the event holds the image as the update left it.
    async with api.stores.db.session() as session:
        row = await session.get(MeImage, first)
        logged = (
            await session.execute(
                select(MeImageEvent)
                .where(col(MeImageEvent.owner_id) == owner)
                .order_by(col(MeImageEvent.seq).desc())
                .limit(1)
            )
        ).scalar_one()
    assert row is not None and row.ai_reference and row.ai_reference_until is None
    assert row.updated_at > row.created_at
    assert (logged.image_id, logged.payload) == (first, {"enabled": True})
    assert logged.image["ai_reference"] is True
    assert logged.image["updated_at"] == aware(row.updated_at).isoformat()


async def test_an_update_reads_the_current_data_key_once(api: Api, owner: str) -> None:
    first, _ = await two_images(api, owner)
    with counted(api) as seen:
        result = await api.gql(
            UPDATE,
            {"id": first, "input": {"label": "new", "tags": ["a", "b"], "kind": "HANDS"}},
            user=owner,
        )
    assert result["updateMeImage"] == {"__typename": "MeImage", "label": "new", "kind": "HANDS"}
    # Both encrypted fields are sealed with one look-up of the owner's current key.
    assert seen.sent == expected(
        api,
        "INSERT INTO OWNER",
        "SELECT ME_IMAGE.ID, ME_IMAGE.OWNER_ID,",
        "SELECT DATA_KEY.ID, DATA_KEY.OWNER_ID,",
        "UPDATE ME_IMAGE SET",
        "INSERT INTO ME_IMAGE_EVENT",
    )
    assert seen.commits == 1


@pytest.mark.parametrize("slot", ["AVATAR", "FACE_REF"])
async def test_claiming_a_slot_already_held_writes_nothing_but_the_lock(
    api: Api, owner: str, slot: str
) -> None:
    first, _ = await two_images(api, owner)
    await api.gql(SET_PRIMARY, {"id": first, "slot": slot}, user=owner)
    with counted(api) as seen:
        await api.gql(SET_PRIMARY, {"id": first, "slot": slot}, user=owner)
    assert seen.sent == expected(
        api,
        "INSERT INTO OWNER",
        "SELECT ME_IMAGE.ID, ME_IMAGE.OWNER_ID,",
    )


@pytest.mark.parametrize("api", ["sqlite"], indirect=True)  # trips to aiosqlite's thread
async def test_a_slot_swap_on_sqlite_is_two_trips_to_the_driver(
    api: Api, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statements whose result is not read (the owner's bump, both updates, the
    events) wait for the next trip (storage/sqlite_driver.py): the lock's bump rides with
    the read, the rest with the COMMIT."""
    assert api.backend == "sqlite"
    first, second = await two_images(api, owner)
    await api.gql(SET_PRIMARY, {"id": first, "slot": "FACE_REF"}, user=owner)
    trips = record_trips(monkeypatch)
    with counted(api) as seen:
        result = await api.gql(SET_PRIMARY, {"id": second, "slot": "FACE_REF"}, user=owner)
    assert result["setPrimary"]["primaryFor"] == "FACE_REF"
    assert len(seen.sent) == 5 and seen.commits == 1
    # (what a trip carried, how many statements waited for it)
    assert trips == [("run", 1), ("commit", 3)]
