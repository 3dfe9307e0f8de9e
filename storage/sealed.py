"""Sealed blobs: the owner-aware face of a blob store, the one every media byte goes through.

Each object is encrypted (AES-256-GCM, a fresh nonce) with a key derived from its owner's
data key, and bound to its owner and name, so a copy under another name or owner does not
open. Names come from a keyed digest of the content hash, so a listing of the folder or
bucket tells nothing about which photos are there, while one owner's identical uploads
still meet under one name. Destroying the owner's data keys (a purge) leaves every copy
of their objects, wherever it went, undecryptable.

Objects written before sealing existed keep their old names (`o/…`) and plaintext until
the conversion (`resolvers.lifecycle.sealing`) rewrites them; until then both are served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path

from storage.blobs import LEGACY_PREFIX, SEALED_PREFIX, BlobInfo, BlobStore
from storage.crypto import (
    BlobKeys,
    DecryptionError,
    blob_name_digest,
    is_sealed_blob,
    open_blob,
    seal_blob,
    sealed_blob_key_id,
)
from storage.db import Database
from storage.keys import FieldVault
from storage.repositories.owners import OwnerRepository
from storage.sealed_files import (
    SealedFileWriter,
    plaintext_size,
    read_sealed_file,
    sealed_file_key_id,
)

__all__ = ["LEGACY_PREFIX", "SEALED_PREFIX", "OwnerBlobs", "SealedBlobStore", "is_sealed_name"]

log = logging.getLogger("meimages.blobs")

# Larger payloads are sealed and opened off the event loop.
_THREAD_FROM = 64 * 1024

# What a stored object is to its media object: the upload's renditions, or a transform
# spec name (`w320h240-cover.webp`) for cached variants.
ORIGINAL = "original"
THUMBNAIL = "thumbnail"
MEDIUM = "medium"


def is_sealed_name(key: str) -> bool:
    return key.startswith(SEALED_PREFIX)


async def _off_loop(size: int, fn: Callable[..., bytes], *args: object) -> bytes:
    if size >= _THREAD_FROM:
        return await asyncio.to_thread(fn, *args)
    return fn(*args)


class OwnerBlobs:
    """One owner's objects, with the owner's current keys looked up once: names for new
    objects and writes that seal them."""

    def __init__(self, raw: BlobStore, owner_id: str, keys: BlobKeys) -> None:
        self._raw = raw
        self.owner_id = owner_id
        self.keys = keys

    @property
    def data_key_id(self) -> str:
        """The data key these writes are sealed with (a purge destroys it)."""
        return self.keys.data_key_id

    def name(self, sha256: str, role: str = ORIGINAL) -> str:
        """The object name of one rendition of the content with this hash."""
        digest = blob_name_digest(self.keys, sha256, role)
        return f"{SEALED_PREFIX}{digest[:2]}/{digest}"

    async def put(self, name: str, data: bytes) -> None:
        """Seal and store durably (see `BlobStore.put`)."""
        sealed = await _off_loop(len(data), seal_blob, self.keys, self.owner_id, name, data)
        await self._raw.put(name, sealed)


class SealedBlobStore:
    """Reads and writes media bytes under their owner's key; everything else (listing,
    deleting, sweeping) works on names and ciphertext alone, as the raw store does."""

    def __init__(self, raw: BlobStore, db: Database, vault: FieldVault) -> None:
        self.raw = raw
        self._db = db
        self._vault = vault

    async def owner(self, owner_id: str) -> OwnerBlobs:
        """The owner's current keys, made on first use (an owner's first upload)."""
        async with self._db.session() as session:
            keys = await self._vault.current_blob_keys(session, owner_id, create=False)
        if keys is None:
            async with self._db.transaction() as session:
                await OwnerRepository(session).ensure(owner_id)
                keys = await self._vault.current_blob_keys(session, owner_id)
        assert keys is not None
        return OwnerBlobs(self.raw, owner_id, keys)

    async def get(self, owner_id: str, name: str) -> bytes | None:
        """The plaintext of one of the owner's objects; None when it is missing or does not
        open (its key was destroyed, it was moved, or it was damaged): for every door an
        object that cannot be read is an object that is not there."""
        data = await self.raw.get(name)
        if data is None:
            return None
        try:
            return await self.open(owner_id, name, data)
        except DecryptionError as exc:
            log.warning("stored object %s of an owner does not open: %s", name, exc)
            return None

    async def open(self, owner_id: str, name: str, data: bytes) -> bytes:
        """Plaintext of stored bytes; raises DecryptionError. Objects under old names may
        still be plaintext (written before sealing; the conversion seals them)."""
        if not is_sealed_blob(data):
            if is_sealed_name(name):
                raise DecryptionError("an object under a sealed name is not sealed")
            return data
        key_id = sealed_blob_key_id(data)
        keys = self._vault.cached_blob_keys(owner_id, key_id)
        if keys is None:
            async with self._db.session() as session:
                keys = await self._vault.blob_keys(session, owner_id, key_id)
        return await _off_loop(len(data), open_blob, keys, owner_id, name, data)

    async def file_writer(self, owner_id: str, path: Path, name: str) -> SealedFileWriter:
        """A file at `path` sealed for the owner under `name` as it is written (export
        archives waiting for download); close it to finish."""
        owner = await self.owner(owner_id)
        return SealedFileWriter(path, owner.keys, owner_id, name)

    async def file_reader(
        self, owner_id: str, path: Path, name: str
    ) -> tuple[int, Iterator[bytes]]:
        """(plaintext size, plaintext segments) of a sealed file; DecryptionError when its
        key is gone or it is not the owner's file of that name. The segments are read
        lazily (iterate them off the event loop)."""
        key_id = await asyncio.to_thread(sealed_file_key_id, path)
        keys = self._vault.cached_blob_keys(owner_id, key_id)
        if keys is None:
            async with self._db.session() as session:
                keys = await self._vault.blob_keys(session, owner_id, key_id)
        size = await asyncio.to_thread(plaintext_size, path)
        return size, read_sealed_file(path, keys, owner_id, name)

    async def exists(self, name: str) -> bool:
        return await self.raw.exists(name)

    async def delete(self, name: str) -> None:
        await self.raw.delete(name)

    def list_blobs(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        return self.raw.list_blobs(prefix)

    async def discard_incomplete(self, older_than: datetime) -> int:
        return await self.raw.discard_incomplete(older_than)
