"""Repositories on both databases: the one upsert, and the generation's encrypted fields
kept in the format they always had."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from storage.crypto import MasterKey, MasterKeyring
from storage.db import Database
from storage.keys import FieldVault
from storage.migrate import upgrade
from storage.repositories import reading, transaction
from storage.repositories.blobs import RegistrationLost
from storage.tables import GenerationEncrypted, GenerationRecord, GenerationStatus, utcnow
from tests.support.databases import create_database, drop_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'repo.db'}")
        url = None
    else:
        url = await create_database("meimages_repo")
        database = Database(url)
    await upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()
        if url is not None:
            await drop_database(url)


async def test_the_upsert_inserts_updates_and_leaves_alone(db: Database) -> None:
    async with transaction(db) as tx:
        await tx.owners.ensure("ann")
        await tx.owners.ensure("ann")  # insert-if-absent: a second call changes nothing
        await tx.blobs.register("ann", ["k/1", "k/2"])
    async with transaction(db) as tx:
        await tx.blobs.claim(["k/1"])
    async with transaction(db) as tx:
        # Registering again keeps a referenced key referenced; an orphan starts again.
        await tx.blobs.register("ann", ["k/1", "k/2", "k/3"])
        later = utcnow() + timedelta(hours=1)
        assert await tx.blobs.orphaned_since(later, after="", limit=10, owner_id="ann") == [
            "k/2",
            "k/3",
        ]
        await tx.blobs.orphan("ann", ["k/1", "k/4"], utcnow())
        assert await tx.blobs.orphaned_since(later, after="", limit=10, owner_id=None) == [
            "k/1",
            "k/2",
            "k/3",
            "k/4",
        ]
    async with reading(db) as read:
        assert await read.owners.data_version("ann") == 0
    with pytest.raises(RegistrationLost):
        async with transaction(db) as tx:
            await tx.blobs.claim(["k/1", "k/missing"])


async def test_generation_fields_keep_their_stored_format(db: Database) -> None:
    vault = FieldVault(MasterKeyring([MasterKey.generate()]))
    now = utcnow()
    record = GenerationRecord(
        owner_id="ann",
        space_id="personal",
        status=GenerationStatus.PENDING.value,
        prompt_ct=b"",
        model_requested="gpt-image-1",
        quality="low",
        size="1024x1024",
        n=1,
        created_at=now,
        heartbeat_at=now,
    )
    async with transaction(db, vault) as tx:
        await tx.owners.ensure("ann")
        await tx.generations.insert(record, GenerationEncrypted("a portrait", "ab" * 32))
    async with reading(db, vault) as read:
        row = await read.generations.get(record.id)
        assert row is not None and row.input_hash_ct is not None
        assert await read.generations.open(row) == GenerationEncrypted("a portrait", "ab" * 32)
    # Exactly what the per-field calls wrote before the declaration existed.
    async with db.session() as session:
        for field, blob, value in (
            ("prompt", row.prompt_ct, "a portrait"),
            ("input_hash", row.input_hash_ct, "ab" * 32),
        ):
            opened = await vault.decrypt(
                session,
                owner_id="ann",
                table="generation",
                field=field,
                row_id=row.id,
                blob=blob,
            )
            assert opened == value
