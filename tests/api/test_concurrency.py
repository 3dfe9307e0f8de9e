"""The primary-slot invariant holds under concurrent requests and in the database itself."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.tables import MeImage, utcnow
from testbed.images import jpeg
from tests.support.app import Api

SET_PRIMARY = "mutation($id: ID!, $slot: PrimarySlot) { setPrimary(id: $id, slot: $slot) { __typename ... on MeImage { primaryFor } } }"


async def live_holders(api: Api, owner: str, slot: str) -> int:
    async with api.app.state.server.stores.db.session() as session:
        return (
            await session.execute(
                select(func.count())
                .select_from(MeImage)
                .where(
                    MeImage.owner_id == owner,
                    MeImage.primary_for == slot,
                    MeImage.deleted_at.is_(None),
                )  # type: ignore[arg-type,union-attr]
            )
        ).scalar_one()


async def holder_ids(api: Api, owner: str, slot: str) -> list[str]:
    async with api.app.state.server.stores.db.session() as session:
        rows = await session.scalars(
            select(MeImage.id).where(
                MeImage.owner_id == owner,
                MeImage.primary_for == slot,
                MeImage.deleted_at.is_(None),  # type: ignore[union-attr]
            )
        )
        return list(rows.all())


async def test_fifty_concurrent_set_primary_leave_one_holder(api: Api, owner: str) -> None:
    images = [await api.upload(jpeg(100 + i, size=(64, 64)), user=owner) for i in range(10)]
    calls = [
        api.gql(SET_PRIMARY, {"id": images[i % len(images)]["id"], "slot": "FACE_REF"}, user=owner)
        for i in range(50)
    ]
    results = await asyncio.gather(*calls)
    assert all(r["setPrimary"]["__typename"] == "MeImage" for r in results)
    assert await live_holders(api, owner, "face-ref") == 1
    listed = await api.gql("{ meImages { id primaryFor } }", user=owner)
    assert sum(1 for i in listed["meImages"] if i["primaryFor"] == "FACE_REF") == 1
    # Concurrent claims of the three slots by different images: each slot ends with
    # exactly one holder, one of the images that claimed it.
    slots = ["AVATAR", "BODY_REF", "FACE_REF"]
    claims = [(images[i]["id"], slots[i % 3]) for i in range(9)]
    results = await asyncio.gather(
        *(api.gql(SET_PRIMARY, {"id": id_, "slot": slot}, user=owner) for id_, slot in claims)
    )
    assert all(r["setPrimary"]["__typename"] == "MeImage" for r in results)
    for slot in slots:
        (holder,) = await holder_ids(api, owner, slot.lower().replace("_", "-"))
        assert holder in {id_ for id_, claimed in claims if claimed == slot}
    # Clears interleaved with the claims keep the invariant too (a clear may come last,
    # so a slot may end empty); a holder is always an image whose own call claimed it.
    calls = [
        api.gql(
            SET_PRIMARY,
            {
                "id": images[i % len(images)]["id"],
                "slot": [None, "AVATAR", "BODY_REF", "FACE_REF"][i % 4],
            },
            user=owner,
        )
        for i in range(50)
    ]
    results = await asyncio.gather(*calls)
    claimed = {
        (r["setPrimary"]["primaryFor"], images[i % len(images)]["id"])
        for i, r in enumerate(results)
    }
    for slot in slots:
        holders = await holder_ids(api, owner, slot.lower().replace("_", "-"))
        assert len(holders) <= 1
        assert all((slot, holder) in claimed for holder in holders), (slot, holders)


async def test_database_refuses_two_live_holders(api: Api, owner: str) -> None:
    a = await api.upload(jpeg(200), user=owner, input={"primaryFor": "BODY_REF"})
    b = await api.upload(jpeg(201), user=owner)
    db = api.app.state.server.stores.db
    # Bypassing the resolvers: the partial unique index itself says no.
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            row = await session.get(MeImage, b["id"])
            assert row is not None
            row.primary_for = "body-ref"
            session.add(row)
            await session.flush()
    # A deleted row holding the same slot does not count as live.
    async with db.transaction() as session:
        row = await session.get(MeImage, b["id"])
        assert row is not None
        row.deleted_at = utcnow()
        row.primary_for = "body-ref"
        session.add(row)
    assert await holder_ids(api, owner, "body-ref") == [a["id"]]
    now = await api.gql(
        "query($id: ID!) { meImage(id: $id) { primaryFor } }", {"id": a["id"]}, user=owner
    )
    assert now["meImage"]["primaryFor"] == "BODY_REF"
    # Another owner's holder of the same slot is independent.
    other = f"o-{uuid.uuid4().hex[:8]}"
    c = await api.upload(jpeg(202), user=other, input={"primaryFor": "BODY_REF"})
    assert c["primaryFor"] == "BODY_REF"
