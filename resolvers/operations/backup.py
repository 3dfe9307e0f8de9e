"""`meimages backup`: a consistent copy of a live server, database first, then its blobs.

The database is copied in one snapshot (SQLite's online backup API; on PostgreSQL
`pg_dump` of an exported snapshot), so every upload acknowledged before the backup began
is in it. Then every blob a row of that copy names is copied from the live store. Blobs
are never deleted while a row names them, and a row's erasure only orphans them for the
collector's grace period, so they are still there; if one is not, the backup says so
and is not finished. The manifest is written last: a folder without it is no backup.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from resolvers.stores import Stores
from storage import backup as folder
from storage.blobs import LocalBlobStore
from storage.db import Database
from storage.integrity import live_image_count, referenced_keys, snapshot
from storage.tables import utcnow

# Blobs copied at once.
_COPY_CONCURRENCY = 8

Progress = Callable[[int, int, int], None]


@dataclass
class BackupReport:
    images: int = 0
    blobs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    # Blobs a row of the snapshot names that the store no longer had.
    missing: list[str] = field(default_factory=list)
    complete: bool = False


async def take_backup(
    stores: Stores,
    dest: Path,
    *,
    secrets_file: Path | None = None,
    include_master_key: bool = False,
    progress: Progress | None = None,
) -> BackupReport:
    """Write a backup of `stores` into the empty folder `dest`."""
    began = time.monotonic()
    report = BackupReport()
    await asyncio.to_thread(folder.begin, dest)
    taken_at = utcnow()  # before the snapshot: see Manifest.taken_at
    if stores.db.is_sqlite:
        target = dest / folder.SQLITE_FILE
        await asyncio.to_thread(folder.copy_sqlite, folder.sqlite_path(stores.db), target)
        copy = Database(f"sqlite:///{target}")
        try:
            async with snapshot(copy) as conn:
                keys = await referenced_keys(conn)
                report.images = await live_image_count(conn)
                revision = await folder.schema_revision(conn)
        finally:
            await copy.dispose()
        database = "sqlite"
    else:
        async with folder.exported_snapshot(stores.db) as (conn, name):
            keys = await referenced_keys(conn)
            report.images = await live_image_count(conn)
            revision = await folder.schema_revision(conn)
            await folder.pg_dump(stores.db, name, dest / folder.PG_DUMP_FILE)
        database = "postgresql"
    entries = await _copy_blobs(stores, keys, dest / folder.MEDIA, report, progress)
    manifest = folder.Manifest(
        taken_at=taken_at, database=database, schema_revision=revision, images=report.images
    )
    manifest.blobs = sorted(entries, key=lambda entry: entry.key)
    master_keys = stores.vault.keyring.keys if include_master_key else []
    manifest.secrets_included = await asyncio.to_thread(
        folder.add_secrets, dest, secrets_file, master_keys
    )
    manifest.master_key_included = include_master_key
    report.seconds = time.monotonic() - began
    if report.missing:
        return report  # the marker stays: never a finished backup
    await asyncio.to_thread(folder.finish, dest, manifest)
    report.complete = True
    report.seconds = time.monotonic() - began
    return report


async def _copy_blobs(
    stores: Stores,
    keys: list[str],
    media: Path,
    report: BackupReport,
    progress: Progress | None,
) -> list[folder.BlobEntry]:
    target = LocalBlobStore(media)
    entries: list[folder.BlobEntry] = []
    gate = asyncio.Semaphore(_COPY_CONCURRENCY)

    async def copy(key: str) -> None:
        async with gate:
            data = await stores.blobs.get(key)
            if data is None:
                report.missing.append(key)
                return
            await target.put(key, data)
        entries.append(folder.BlobEntry(key, len(data), hashlib.sha256(data).hexdigest()))
        report.blobs += 1
        report.bytes += len(data)
        if progress is not None:
            progress(report.blobs, len(keys), report.bytes)

    if progress is not None:
        progress(0, len(keys), 0)
    await asyncio.gather(*(copy(key) for key in keys))
    report.missing.sort()
    return entries
