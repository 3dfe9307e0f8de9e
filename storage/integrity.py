"""What a data folder holds, read in one snapshot: the rows that name blobs, the blob
registry, and the rows whose links or slots could be broken.

`meimages verify` and the crash test read the database through here (the crash test
while the server is frozen or dead), and judge what they read with the same rules
(`resolvers.operations.verify`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from storage.crypto import DecryptionError
from storage.db import Database
from storage.encrypted import EncryptedColumns
from storage.eventlog import snapshot as event_snapshot
from storage.keys import FieldVault
from storage.tables import (
    GENERATION_ENCRYPTED,
    ME_IMAGE_ENCRYPTED,
    DataKey,
    GenerationRecord,
    MeImage,
    MeImageEvent,
)

_REFERENCED = (
    "SELECT 'media_object.storage_path', storage_path FROM media_object"
    " UNION ALL SELECT 'media_object.thumbnail_path', thumbnail_path FROM media_object"
    " UNION ALL SELECT 'media_object.medium_path', medium_path FROM media_object"
    " UNION ALL SELECT 'media_variant.storage_path', storage_path FROM media_variant"
)
_REGISTRY = "SELECT key, orphaned_at IS NULL FROM media_blob"
_REFS_WITHOUT_OBJECT = (
    "SELECT r.id FROM media_ref r LEFT JOIN media_object o ON o.id = r.media_object_id"
    " WHERE o.id IS NULL"
)
_IMAGES_WITHOUT_REF = (
    "SELECT i.id FROM me_image i LEFT JOIN media_ref r ON r.id = i.media_ref_id WHERE r.id IS NULL"
)
# Slots: one live holder per owner, space and slot; a deleted image holds none; an image's
# media id is its own owner's, in its own space, and held by at most one live image.
_SLOT_HOLDERS = (
    "SELECT owner_id, space_id, primary_for, count(*) FROM me_image"
    " WHERE primary_for IS NOT NULL AND deleted_at IS NULL"
    " GROUP BY owner_id, space_id, primary_for"
)
_DELETED_HOLDERS = (
    "SELECT id FROM me_image WHERE deleted_at IS NOT NULL AND primary_for IS NOT NULL"
)
_FOREIGN_REFS = (
    "SELECT i.id FROM me_image i JOIN media_ref r ON r.id = i.media_ref_id"
    " WHERE r.owner_id <> i.owner_id OR r.space_id <> i.space_id"
)
_SHARED_REFS = (
    "SELECT media_ref_id FROM me_image WHERE deleted_at IS NULL"
    " GROUP BY media_ref_id HAVING count(*) > 1"
)
_IMAGE_COUNT = "SELECT count(*) FROM me_image WHERE deleted_at IS NULL"


@dataclass
class DbState:
    """The rows that name blobs, the registry the garbage collector works from, and the
    rows whose links or slots are broken."""

    # (what, path) for every media_object path and media_variant path.
    referenced: list[tuple[str, str | None]] = field(default_factory=list)
    # Registered key -> True while referenced (orphaned_at is null).
    registry: dict[str, bool] = field(default_factory=dict)
    refs_without_object: list[str] = field(default_factory=list)
    images_without_ref: list[str] = field(default_factory=list)
    # (owner, space, slot, live holders) for every held slot.
    slot_holders: list[tuple[str, str, str, int]] = field(default_factory=list)
    deleted_holders: list[str] = field(default_factory=list)
    foreign_refs: list[str] = field(default_factory=list)
    shared_refs: list[str] = field(default_factory=list)
    live_images: int = 0


@asynccontextmanager
async def snapshot(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection reading one consistent snapshot, and waiting for no writer's lock:
    a read transaction on SQLite (WAL readers never wait), a read-only repeatable-read
    transaction on PostgreSQL."""
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            # Our SQLite connections run in autocommit (storage.db): begin by hand.
            await conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                await conn.exec_driver_sql("ROLLBACK")
            return
        conn = await conn.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        async with conn.begin():
            yield conn


async def read_state(db: Database) -> DbState:
    async with snapshot(db) as conn:
        return await read_state_in(conn)


async def read_state_in(conn: AsyncConnection) -> DbState:
    async def rows(sql: str) -> list[tuple[object, ...]]:
        return [tuple(row) for row in (await conn.execute(text(sql))).all()]

    return DbState(
        referenced=[(str(what), path) for what, path in await rows(_REFERENCED)],  # type: ignore[misc]
        registry={str(key): bool(live) for key, live in await rows(_REGISTRY)},
        refs_without_object=[str(row[0]) for row in await rows(_REFS_WITHOUT_OBJECT)],
        images_without_ref=[str(row[0]) for row in await rows(_IMAGES_WITHOUT_REF)],
        slot_holders=[
            (str(o), str(s), str(slot), int(n))  # type: ignore[call-overload]
            for o, s, slot, n in await rows(_SLOT_HOLDERS)
        ],
        deleted_holders=[str(row[0]) for row in await rows(_DELETED_HOLDERS)],
        foreign_refs=[str(row[0]) for row in await rows(_FOREIGN_REFS)],
        shared_refs=[str(row[0]) for row in await rows(_SHARED_REFS)],
        live_images=int((await conn.execute(text(_IMAGE_COUNT))).scalar_one()),
    )


async def referenced_keys(conn: AsyncConnection) -> list[str]:
    """Every blob key a row of this snapshot names, each once, in key order."""
    result = await conn.execute(text(_REFERENCED))
    return sorted({str(path) for _what, path in result.all() if path is not None})


async def live_image_count(conn: AsyncConnection) -> int:
    return int((await conn.execute(text(_IMAGE_COUNT))).scalar_one())


@dataclass(frozen=True)
class StoredObject:
    """One blob a row names: whose it is, and for an original the SHA-256 of its bytes."""

    owner_id: str
    key: str
    sha256: str | None = None


async def stored_objects(conn: AsyncConnection) -> list[StoredObject]:
    """Every blob a media row names, with its owner (whose key opens it)."""
    found: list[StoredObject] = []
    objects = await conn.execute(
        text("SELECT owner_id, storage_path, sha256, thumbnail_path, medium_path FROM media_object")
    )
    for owner, original, sha, thumbnail, medium in objects.all():
        found.append(StoredObject(str(owner), str(original), str(sha)))
        found += [StoredObject(str(owner), str(key)) for key in (thumbnail, medium) if key]
    variants = await conn.execute(
        text(
            "SELECT o.owner_id, v.storage_path FROM media_variant v"
            " JOIN media_object o ON o.id = v.media_object_id"
        )
    )
    found += [StoredObject(str(owner), str(key)) for owner, key in variants.all()]
    return found


# Rows read per batch when every ciphertext is opened.
_CIPHER_BATCH = 500


async def undecryptable(db: Database, vault: FieldVault) -> list[str]:
    """Every data key that does not unwrap and every encrypted field that does not open
    with the configured master keys, as `table row: reason`."""
    found: list[str] = []
    async with db.session() as session:
        keys = (await session.execute(select(DataKey))).scalars().all()
        for key in keys:
            try:
                vault.keyring.unwrap(key.wrapped_key, key.master_key_id, key.owner_id, key.id)
            except DecryptionError as exc:
                found.append(f"data_key {key.id} of {key.owner_id!r}: {exc}")
        encrypted: list[tuple[Any, EncryptedColumns[Any]]] = [
            (MeImage, ME_IMAGE_ENCRYPTED),
            (GenerationRecord, GENERATION_ENCRYPTED),
        ]
        for table, columns in encrypted:
            after = ""
            while True:
                query = (
                    select(table)
                    .where(col(table.id) > after)
                    .order_by(col(table.id))
                    .limit(_CIPHER_BATCH)
                )
                rows = (await session.execute(query)).scalars().all()
                if not rows:
                    break
                for row in rows:
                    try:
                        await vault.open_row(session, columns, row)
                    except DecryptionError as exc:
                        found.append(f"{columns.table} {row.id}: {exc}")
                after = rows[-1].id
                session.expunge_all()
        found += await _unopened_snapshots(session, vault)
    return found


async def _unopened_snapshots(session: AsyncSession, vault: FieldVault) -> list[str]:
    """The event log's snapshots of images: each opens while its owner's key exists
    (purges drop them, or the owner's whole log, with the key)."""
    found: list[str] = []
    after = 0
    while True:
        query = (
            select(MeImageEvent)
            .where(col(MeImageEvent.seq) > after, col(MeImageEvent.image).is_not(None))
            .order_by(col(MeImageEvent.seq))
            .limit(_CIPHER_BATCH)
        )
        events = (await session.execute(query)).scalars().all()
        if not events:
            return found
        for event in events:
            assert event.seq is not None
            after = event.seq
            if event.image is None:  # a deletion's JSON null, not SQL NULL
                continue
            state = await event_snapshot.decode(
                session, vault, event.image, owner_id=event.owner_id, image_id=event.image_id
            )
            if state.encrypted is None:
                found.append(f"me_image_event {event.seq}: the image's snapshot does not open")
        session.expunge_all()
