"""Blob stores: where media bytes live. The local folder is the embedded default.

Every store behaves the same: keys are opaque names the server chose (never a user's
filename), `put` is durable when it returns, `delete` of a missing key is not an error,
and `list_blobs` walks the stored keys with their last write time (for the garbage collector).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from storage.errors import blob_store_failures

_SAFE_KEY = re.compile(r"^[a-z0-9][a-z0-9/._-]{0,250}$")
# Names of sealed media objects (storage.sealed); objects written in the clear by older
# versions live under "o/" until the conversion seals them.
SEALED_PREFIX = "s/"
LEGACY_PREFIX = "o/"
# Half-written files of the local store; a crash mid-write can leave one behind.
_TMP_PREFIX = ".tmp-"


def check_key(key: str) -> str:
    """Refuse anything that is not a plain relative key (no `..`, no absolute paths)."""
    if not _SAFE_KEY.match(key) or ".." in key or "//" in key:
        raise ValueError(f"unsafe blob key {key!r}")
    return key


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    modified: datetime


class BlobStore(Protocol):
    """Content lives under opaque keys the server chose; never user-supplied names."""

    async def put(self, key: str, data: bytes) -> None:
        """Store durably; when this returns, a crash does not lose the bytes."""

    async def get(self, key: str) -> bytes | None: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the key; a missing key is fine (deletes are retried after crashes)."""

    def list_blobs(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        """Every stored key under the folder `prefix`, in no particular order."""
        ...

    async def discard_incomplete(self, older_than: datetime) -> int:
        """Remove leftovers of writes that never finished; returns how many."""
        ...

    async def close(self) -> None: ...


class LocalBlobStore:
    """A folder; writes go to a temp file, are fsynced, then renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        with blob_store_failures():
            await asyncio.to_thread(self._put, self._path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        # The rename is durable only once the directory entry is on disk too.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            with blob_store_failures():
                return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def exists(self, key: str) -> bool:
        with blob_store_failures():
            return await asyncio.to_thread(self._path(key).is_file)

    async def check(self) -> None:
        """Raise unless the folder can be listed and written (the readiness probe)."""
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        with os.scandir(self.root) as entries:
            next(entries, None)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise PermissionError(f"{self.root} is not writable")

    async def delete(self, key: str) -> None:
        with blob_store_failures():
            await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def _scan(self, prefix: str) -> list[BlobInfo]:
        # A prefix names a folder, as it does for object stores.
        folder = prefix.rstrip("/") + "/" if prefix else ""
        found: list[BlobInfo] = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(_TMP_PREFIX):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if (folder and not key.startswith(folder)) or not _SAFE_KEY.match(key):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                found.append(
                    BlobInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
                )
        return found

    async def list_blobs(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        for info in await asyncio.to_thread(self._scan, prefix):
            yield info

    def _discard(self, older_than: datetime) -> int:
        removed = 0
        cutoff = older_than.timestamp()
        for path in self.root.rglob(f"{_TMP_PREFIX}*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    async def discard_incomplete(self, older_than: datetime) -> int:
        return await asyncio.to_thread(self._discard, older_than)

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class S3Credentials:
    """Explicit credentials; when empty, the S3 library reads the usual AWS_* variables."""

    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str = ""
