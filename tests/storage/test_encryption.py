"""Field encryption: ciphertexts are bound to row, field and owner; keys rotate; nothing leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, text

from api.settings import Settings
from storage.crypto import DecryptionError, MasterKey, MasterKeyring, ciphertext_key_id
from storage.keys import FieldVault, rewrap_all
from storage.tables import DataKey, MeImage
from testbed.images import jpeg
from tests.support.app import Api, running_api
from tests.support.at_rest import files_holding, raw_database_files
from tests.support.databases import throwaway_database


async def decrypt(
    api: Api, vault: FieldVault, blob: bytes, *, owner_id: str, row_id: str, field: str = "label"
) -> object:
    """Decrypt a me_image field as the given (owner, row, field) — the binding under test."""
    async with api.app.state.server.stores.db.session() as session:
        return await vault.decrypt(
            session, owner_id=owner_id, table="me_image", field=field, row_id=row_id, blob=blob
        )


async def data_keys(api: Api, owner: str, column: Any = DataKey.id) -> set[str]:
    async with api.app.state.server.stores.db.session() as session:
        rows = await session.execute(select(column).where(DataKey.owner_id == owner))  # type: ignore[arg-type]
        return set(rows.scalars())


async def raw_row(api: Api, image_id: str) -> MeImage:
    async with api.app.state.server.stores.db.session() as session:
        row = await session.get(MeImage, image_id)
    assert row is not None
    return row


async def test_label_and_tags_are_ciphertext_with_version_and_key_id(api: Api, owner: str) -> None:
    canary = "CANARY-label-91b2c"
    image = await api.upload(
        jpeg(31), user=owner, input={"label": canary, "tags": ["CANARY-tag-5e5e"]}
    )
    row = await raw_row(api, image["id"])
    assert row.label_ct is not None and row.tags_ct is not None
    assert canary.encode() not in row.label_ct
    assert row.label_ct[0] == 1  # format version
    assert ciphertext_key_id(row.label_ct) in await data_keys(api, owner)
    # Nothing in the database's own text representation either.
    async with api.app.state.server.stores.db.session() as session:
        dump = (
            await session.execute(
                text("SELECT label_ct, tags_ct FROM me_image WHERE id = :id"), {"id": image["id"]}
            )
        ).one()
    assert all(b"CANARY" not in bytes(col) for col in dump)


async def test_canary_absent_from_raw_database_files(api: Api, owner: str) -> None:
    """Neither the images' rows nor the event log (whose events carry the image's state)
    hold a label or tag in plaintext, on either database."""
    canary = "CANARY-grep-4d4d4d"
    image = await api.upload(
        jpeg(32), user=owner, input={"label": canary, "tags": [canary + "-tag"]}
    )
    renamed = await api.gql(
        "mutation($id: ID!, $l: String) { updateMeImage(id: $id, input: {label: $l}) "
        "{ __typename } }",
        {"id": image["id"], "l": canary + "-renamed"},
        user=owner,
    )
    assert renamed["updateMeImage"]["__typename"] == "MeImage"
    files = await raw_database_files(api, ["me_image", "me_image_event"])
    if api.backend == "postgres":
        # Both tables' files are searched, not only the images'.
        assert len({f.name for f in files}) >= 2
    assert files_holding(files, canary.encode()) == []


async def test_ciphertext_moved_to_another_row_field_or_owner_fails(
    api: Api, owner: str, other_owner: str
) -> None:
    a = await api.upload(jpeg(33), user=owner, input={"label": "mine A", "tags": ["t"]})
    b = await api.upload(jpeg(34), user=owner, input={"label": "mine B"})
    c = await api.upload(jpeg(35), user=other_owner, input={"label": "theirs"})
    vault: FieldVault = api.app.state.server.stores.vault
    row_a = await raw_row(api, a["id"])
    assert row_a.label_ct is not None and row_a.tags_ct is not None
    # Right place decrypts.
    assert await decrypt(api, vault, row_a.label_ct, owner_id=owner, row_id=a["id"]) == "mine A"
    for owner_id, field, row_id in (
        (owner, "label", b["id"]),  # another row
        (owner, "tags", a["id"]),  # another field
        (other_owner, "label", c["id"]),  # another owner
    ):
        with pytest.raises(DecryptionError):
            await decrypt(api, vault, row_a.label_ct, owner_id=owner_id, row_id=row_id, field=field)
    # Tampering with one byte fails too.
    tampered = bytearray(row_a.label_ct)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        await decrypt(api, vault, bytes(tampered), owner_id=owner, row_id=a["id"])

    # Copying the ciphertext in the database makes that row unreadable, never readable as A.
    async with api.app.state.server.stores.db.transaction() as session:
        await session.execute(
            text("UPDATE me_image SET label_ct = :ct WHERE id = :id"),
            {"ct": row_a.label_ct, "id": b["id"]},
        )
    response = await api.client.post(
        "/graphql",
        json={
            "query": "query($id: ID!) { meImage(id: $id) { label } }",
            "variables": {"id": b["id"]},
        },
        headers=api.headers(owner),
    )
    body = response.json()
    assert body == {"data": {"meImage": {"label": None}}}  # unreadable, never A's label
    assert "mine A" not in response.text


@pytest_asyncio.fixture(loop_scope="session")
async def own_api(api: Api, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on a database of its own: a rotation rewraps every data key in the
    database, and the shared one also holds keys of other test apps' master keys."""
    async with throwaway_database(api.backend, tmp_path, "meimages_rotation") as url:
        settings = Settings(data_dir=tmp_path, database_url=url)
        async with running_api(settings, api.backend) as running:
            yield running


async def test_master_key_rotation_rewraps_and_old_ciphertexts_still_read(
    own_api: Api, owner: str
) -> None:
    api = own_api
    image = await api.upload(jpeg(36), user=owner, input={"label": "before rotation"})
    stores = api.app.state.server.stores
    old_ring: MasterKeyring = stores.vault.keyring
    new = MasterKey.generate()
    ring = MasterKeyring([new, *old_ring.keys])
    count = await rewrap_all(stores.db, ring)
    assert count >= 1
    assert await data_keys(api, owner, DataKey.master_key_id) == {new.id}
    # A fresh vault that only knows the new key reads the old row.
    fresh = FieldVault(MasterKeyring([new]))
    row = await raw_row(api, image["id"])
    assert row.label_ct is not None
    label = await decrypt(api, fresh, row.label_ct, owner_id=owner, row_id=image["id"])
    assert label == "before rotation"
    # The running server keeps working: it reloads or still holds the key material.
    stores.vault.forget(owner)
    stores.vault.keyring = ring
    got = await api.gql(
        "query($id: ID!) { meImage(id: $id) { label } }", {"id": image["id"]}, user=owner
    )
    assert got["meImage"]["label"] == "before rotation"


async def test_destroyed_data_key_makes_old_ciphertexts_noise(api: Api, owner: str) -> None:
    image = await api.upload(jpeg(37), user=owner, input={"label": "shred me"})
    stores = api.app.state.server.stores
    row = await raw_row(api, image["id"])
    assert row.label_ct is not None
    async with stores.db.transaction() as session:
        await stores.vault.destroy_owner_keys(session, owner)
    with pytest.raises(DecryptionError):
        await decrypt(api, stores.vault, row.label_ct, owner_id=owner, row_id=image["id"])


async def test_key_destroyed_by_another_process_is_never_reused(api: Api, owner: str) -> None:
    from storage.db import Database

    await api.upload(jpeg(38), user=owner, input={"label": "before purge"})
    stores = api.app.state.server.stores
    # Another process (a `meimages purge`, another instance) destroys the owner's keys.
    other = Database(stores.db.url)
    try:
        async with other.transaction() as session:
            await session.execute(text("DELETE FROM me_image WHERE owner_id = :o"), {"o": owner})
            await session.execute(text("DELETE FROM data_key WHERE owner_id = :o"), {"o": owner})
    finally:
        await other.dispose()
    # This process still remembers the old key; its next write must not use it.
    image = await api.upload(jpeg(39), user=owner, input={"label": "after purge"})
    row = await raw_row(api, image["id"])
    assert row.label_ct is not None
    assert ciphertext_key_id(row.label_ct) in await data_keys(api, owner)
    # A process that starts fresh (only the master key) reads it.
    fresh = FieldVault(MasterKeyring(stores.vault.keyring.keys))
    assert (
        await decrypt(api, fresh, row.label_ct, owner_id=owner, row_id=image["id"]) == "after purge"
    )
