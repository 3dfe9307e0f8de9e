"""Per-owner data keys: created on first use, cached unwrapped, re-wrapped on rotation.

The vault encrypts fields bound to (table, field, row id, owner). Tables declare their
encrypted fields once (`storage.encrypted`); `seal` and `open` handle all declared
fields of a row in one call, so no caller names a field or a column by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.crypto import (
    BlobKeys,
    DecryptionError,
    MasterKeyring,
    blob_keys,
    ciphertext_key_id,
    decrypt_field,
    encrypt_field,
    field_aad,
    new_data_key,
)
from storage.db import Database
from storage.encrypted import EncryptedColumns
from storage.tables import DataKey, utcnow

P = TypeVar("P")


class FieldVault:
    """Encrypts and decrypts owner fields bound to (table, field, row id, owner)."""

    def __init__(self, keyring: MasterKeyring) -> None:
        self.keyring = keyring
        self._cache: dict[tuple[str, str], bytes] = {}
        self._blob_cache: dict[tuple[str, str], BlobKeys] = {}

    async def _current_key(self, session: AsyncSession, owner_id: str) -> tuple[str, bytes]:
        # Always ask the database which key is current: another process (a purge, another
        # instance) may have destroyed the one this process remembers. Writes are rare.
        row = await _current_row(session, owner_id)
        if row is not None and (owner_id, row.id) in self._cache:
            return row.id, self._cache[(owner_id, row.id)]
        if row is None:
            self.forget(owner_id)  # whatever we remembered was destroyed
            key_id, key = new_data_key()
            master_id, wrapped = self.keyring.wrap(key, owner_id, key_id)
            session.add(
                DataKey(
                    id=key_id,
                    owner_id=owner_id,
                    master_key_id=master_id,
                    wrapped_key=wrapped,
                    created_at=utcnow(),
                )
            )
            await session.flush()
        else:
            key_id = row.id
            key = self.keyring.unwrap(row.wrapped_key, row.master_key_id, owner_id, row.id)
        self._cache[(owner_id, key_id)] = key
        return key_id, key

    async def _key(self, session: AsyncSession, owner_id: str, key_id: str) -> bytes:
        cached = self._cache.get((owner_id, key_id))
        if cached is not None:
            return cached
        row = await session.get(DataKey, key_id)
        if row is None or row.owner_id != owner_id:
            raise DecryptionError("the data key of this ciphertext is gone")
        key = self.keyring.unwrap(row.wrapped_key, row.master_key_id, owner_id, row.id)
        self._cache[(owner_id, key_id)] = key
        return key

    async def encrypt(
        self,
        session: AsyncSession,
        *,
        owner_id: str,
        table: str,
        field: str,
        row_id: str,
        value: object,
    ) -> bytes:
        key_id, key = await self._current_key(session, owner_id)
        return _sealed(key_id, key, value, field_aad(table, field, row_id, owner_id))

    async def decrypt(
        self,
        session: AsyncSession,
        *,
        owner_id: str,
        table: str,
        field: str,
        row_id: str,
        blob: bytes,
    ) -> object:
        key = await self._key(session, owner_id, ciphertext_key_id(blob))
        plaintext = decrypt_field(key, blob, field_aad(table, field, row_id, owner_id))
        return json.loads(plaintext)

    async def seal(
        self,
        session: AsyncSession,
        columns: EncryptedColumns[Any],
        row: object,
        values: Mapping[str, object],
    ) -> None:
        """Encrypt `values` (any of the declared fields, by name) into their columns of
        `row`, bound to the row's owner and id. None stores NULL."""
        owner_id, row_id = columns.binding(row)
        # One look-up of the current key for all fields (not one per field, and no
        # autoflush of the first field's column before the second look-up).
        current = None
        if any(value is not None for value in values.values()):
            current = await self._current_key(session, owner_id)
        for name, value in values.items():
            field = columns[name]
            blob = None
            if value is not None and current is not None:
                aad = field_aad(columns.table, name, row_id, owner_id)
                blob = _sealed(*current, value, aad)
            setattr(row, field.column, blob)

    async def open(
        self,
        session: AsyncSession,
        columns: EncryptedColumns[P],
        *,
        owner_id: str,
        row_id: str,
        ciphertexts: Mapping[str, bytes | None],
    ) -> P:
        """Every declared field of one row in plaintext; a NULL (or absent) ciphertext
        gives the field's default. Raises DecryptionError if any field does not open."""
        values: dict[str, object] = {}
        for field in columns:
            blob = ciphertexts.get(field.name)
            if blob is not None:
                values[field.name] = await self.decrypt(
                    session,
                    owner_id=owner_id,
                    table=columns.table,
                    field=field.name,
                    row_id=row_id,
                    blob=blob,
                )
        return columns.build(values)

    async def open_row(self, session: AsyncSession, columns: EncryptedColumns[P], row: object) -> P:
        """`open` for a row object: its own binding and its own ciphertext columns."""
        owner_id, row_id = columns.binding(row)
        return await self.open(
            session,
            columns,
            owner_id=owner_id,
            row_id=row_id,
            ciphertexts=columns.ciphertexts(row),
        )

    async def current_blob_keys(
        self, session: AsyncSession, owner_id: str, *, create: bool = True
    ) -> BlobKeys | None:
        """The keys new objects of the owner are sealed and named with, derived from the
        owner's current data key; one is created if the owner has none and `create`."""
        if not create:
            row = await _current_row(session, owner_id)
            if row is None:
                return None
            return await self.blob_keys(session, owner_id, row.id)
        key_id, key = await self._current_key(session, owner_id)
        return self._blob_keys(owner_id, key_id, key)

    async def blob_keys(self, session: AsyncSession, owner_id: str, key_id: str) -> BlobKeys:
        """The keys of a stored object sealed with data key `key_id`; DecryptionError once
        the key is destroyed."""
        cached = self._blob_cache.get((owner_id, key_id))
        if cached is not None:
            return cached
        return self._blob_keys(owner_id, key_id, await self._key(session, owner_id, key_id))

    def cached_blob_keys(self, owner_id: str, key_id: str) -> BlobKeys | None:
        return self._blob_cache.get((owner_id, key_id))

    def _blob_keys(self, owner_id: str, key_id: str, key: bytes) -> BlobKeys:
        cached = self._blob_cache.get((owner_id, key_id))
        if cached is None:
            cached = self._blob_cache[(owner_id, key_id)] = blob_keys(key_id, key, owner_id)
        return cached

    def forget(self, owner_id: str) -> None:
        for cache_key in [k for k in self._cache if k[0] == owner_id]:
            del self._cache[cache_key]
        for blob_key in [k for k in self._blob_cache if k[0] == owner_id]:
            del self._blob_cache[blob_key]

    async def destroy_owner_keys(self, session: AsyncSession, owner_id: str) -> None:
        """Crypto-shred: without the data key, copies of old ciphertexts are noise."""
        await session.execute(delete(DataKey).where(DataKey.owner_id == owner_id))  # type: ignore[arg-type]
        self.forget(owner_id)


def _sealed(key_id: str, key: bytes, value: object, aad: bytes) -> bytes:
    return encrypt_field(key_id, key, json.dumps(value, separators=(",", ":")).encode(), aad)


async def rewrap_all(db: Database, keyring: MasterKeyring) -> int:
    """Re-wrap every data key under the keyring's primary master key, one row at a time.

    Running servers keep working throughout: each row is valid under either key,
    and a server that meets an unknown master key id reloads its keyring.
    """
    count = 0
    async with db.session() as session:
        ids = [
            row[0]
            for row in (
                await session.execute(
                    select(col(DataKey.id)).where(col(DataKey.master_key_id) != keyring.primary.id)
                )
            ).all()
        ]
    for key_id in ids:
        async with db.transaction() as session:
            row = await session.get(DataKey, key_id, with_for_update=True)
            if row is None or row.master_key_id == keyring.primary.id:
                continue
            key = keyring.unwrap(row.wrapped_key, row.master_key_id, row.owner_id, row.id)
            row.master_key_id, row.wrapped_key = keyring.wrap(key, row.owner_id, row.id)
            count += 1
    return count


async def master_keys_in_use(db: Database) -> set[str]:
    """Ids of the master keys that still wrap at least one data key."""
    async with db.session() as session:
        rows = await session.execute(select(col(DataKey.master_key_id)).distinct())
        return {row[0] for row in rows.all()}


async def _current_row(session: AsyncSession, owner_id: str) -> DataKey | None:
    """The owner's newest data key row, if any."""
    row: DataKey | None = (
        await session.execute(
            select(DataKey)
            .where(DataKey.owner_id == owner_id)  # type: ignore[arg-type]
            .order_by(DataKey.created_at.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
    ).scalar_one_or_none()
    return row
