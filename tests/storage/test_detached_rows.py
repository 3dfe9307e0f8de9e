"""A writer that has not used its session yet reads the slot contenders as rows on the
connection and makes their objects itself (`storage.repositories.pool.Detached`); once
the session holds objects of the transaction, it reads them through the session. Both
must give the same images, and objects made from rows must behave as loaded ones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from storage.repositories import transaction
from storage.repositories.pool import Contender
from testbed.images import jpeg
from tests.support.app import Api


def _columns(instance: object) -> dict[str, Any]:
    return {attr.key: getattr(instance, attr.key) for attr in inspect(type(instance)).column_attrs}


def _values(found: list[Contender]) -> list[Any]:
    return [([_columns(part) for part in contender.stored], contender.uses) for contender in found]


async def test_rows_and_the_session_read_the_same_contenders(api: Api, owner: str) -> None:
    first, second = [
        str((await api.upload(jpeg(500 + n, size=(40, 40)), user=owner))["id"]) for n in range(2)
    ]
    await api.gql(
        "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename } }",
        {"id": first},
        user=owner,
    )
    db, vault = api.stores.db, api.stores.vault
    async with transaction(db, vault) as tx:
        session = tx.pool._session
        assert not session.in_transaction()
        as_rows = await tx.pool.slot_contenders(owner, "personal", second, "face-ref")
        # Read as rows, the session was not even begun.
        assert not session.in_transaction()
    async with transaction(db, vault) as tx:
        assert await tx.pool.live_count(owner, "personal") == 2  # the session is in use
        through_session = await tx.pool.slot_contenders(owner, "personal", second, "face-ref")
    assert {c.stored.row.id for c in as_rows} == {first, second}
    assert sorted(_values(as_rows), key=repr) == sorted(_values(through_session), key=repr)
    for contender in as_rows:
        for part in contender.stored:
            state = inspect(part)
            # Detached, as a loaded object is after its session closed: nothing to flush.
            assert state.detached and state.key is not None and not state.modified


async def test_an_object_made_from_a_row_is_written_as_the_row_it_is(api: Api, owner: str) -> None:
    image = str((await api.upload(jpeg(510, size=(40, 40)), user=owner))["id"])
    db, vault = api.stores.db, api.stores.vault
    async with transaction(db, vault) as tx:
        (found,) = await tx.pool.slot_contenders(owner, "personal", image, None)
        row = found.stored.row
        row.show_in_profile = False
        # Added to the session, it is the stored row changed (an UPDATE), not a new one.
        await tx.pool.save(row)
    async with transaction(db, vault) as tx:
        (again,) = await tx.pool.slot_contenders(owner, "personal", image, None)
        assert again.stored.row.show_in_profile is False
        assert await tx.pool.live_count(owner, "personal") == 1
