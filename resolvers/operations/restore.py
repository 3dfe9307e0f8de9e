"""`meimages restore`: a backup into an empty data folder, and every erasure made since.

The restore runs while no server serves the folder: a marker (`RESTORE-INCOMPLETE`) is
written first and removed only once the erasures are replayed and the folder verified,
and `meimages serve` refuses to start while it is there. So a restored server never
serves, even for a moment, a person who asked to be erased after the backup was taken.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from resolvers.lifecycle.purge import erase_images, purge_owner
from resolvers.operations.verify import VerifyReport, verify
from resolvers.stores import Stores
from storage import backup as folder
from storage.erasures import OWNER, Erasure

log = logging.getLogger("meimages.restore")

RESTORE_MARKER = "RESTORE-INCOMPLETE"
# An erasure is journaled just before its transaction commits, and a backup's time is
# taken just before its snapshot: an erasure journaled up to this long before the backup
# may still have committed after the snapshot began, so it is replayed too.
ERASURE_MARGIN = timedelta(minutes=15)

# Blobs written at once.
_COPY_CONCURRENCY = 8

Progress = Callable[[int, int, int], None]


class RestoreRefused(Exception):
    """The backup or the target is not what a restore can work with; nothing was written
    to the target's blob store or database."""


@dataclass
class RestoreReport:
    images: int = 0
    blobs: int = 0
    bytes: int = 0
    owners_erased: int = 0
    images_erased: int = 0
    erasures_replayed: int = 0
    seconds: float = 0.0
    check: VerifyReport = field(default_factory=VerifyReport)


def restoring(data_dir: Path) -> bool:
    """Whether a restore into this data folder began and did not finish."""
    return (data_dir / RESTORE_MARKER).exists()


def place_files(
    source: Path,
    manifest: folder.Manifest,
    *,
    data_dir: Path,
    sqlite_target: Path | None,
    master_key_target: Path,
    master_key_file: Path | None,
) -> None:
    """The files of a restore that must be in place before any store is opened: the
    marker, the SQLite database, the server secrets and the master keys."""
    data_dir.mkdir(parents=True, exist_ok=True)
    folder.write_durably(data_dir / RESTORE_MARKER, b"a restore into this folder is under way\n")
    if manifest.database == "sqlite":
        if sqlite_target is None:
            raise RestoreRefused("this backup holds a SQLite database; unset MEIMAGES_DATABASE_URL")
        sqlite_target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / folder.SQLITE_FILE, sqlite_target)
        with open(sqlite_target, "rb") as fh:
            os.fsync(fh.fileno())
        folder.sync_folder(sqlite_target.parent)
    if manifest.secrets_included:
        shutil.copyfile(source / folder.SECRETS, data_dir / folder.SECRETS)
        (data_dir / folder.SECRETS).chmod(0o600)
    keys = source / folder.MASTER_KEYS if manifest.master_key_included else master_key_file
    if keys is not None:
        shutil.copyfile(keys, master_key_target)
        master_key_target.chmod(0o600)


async def restore_database(stores: Stores, source: Path, manifest: folder.Manifest) -> None:
    """PostgreSQL: the dump into the configured (empty) database. SQLite's file is
    already in place (`place_files`)."""
    if manifest.database == "postgresql":
        if stores.db.is_sqlite:
            raise RestoreRefused("this backup holds a PostgreSQL dump; set MEIMAGES_DATABASE_URL")
        await folder.pg_restore(stores.db, source / folder.PG_DUMP_FILE)


async def restore_blobs(
    stores: Stores,
    source: Path,
    manifest: folder.Manifest,
    report: RestoreReport,
    progress: Progress | None = None,
) -> None:
    """Every blob of the manifest into the configured store, each checked against the
    hash the backup recorded for it."""
    total = len(manifest.blobs)
    gate = asyncio.Semaphore(_COPY_CONCURRENCY)
    if progress is not None:
        progress(0, total, 0)

    async def copy(entry: folder.BlobEntry) -> None:
        async with gate:
            try:
                data = await asyncio.to_thread((source / folder.MEDIA / entry.key).read_bytes)
            except FileNotFoundError:
                raise RestoreRefused(f"the backup lost blob {entry.key}") from None
            if hashlib.sha256(data).hexdigest() != entry.sha256:
                raise RestoreRefused(f"blob {entry.key} of the backup is damaged")
            await stores.blobs.put(entry.key, data)
        report.blobs += 1
        report.bytes += len(data)
        if progress is not None:
            progress(report.blobs, total, report.bytes)

    await asyncio.gather(*(copy(entry) for entry in manifest.blobs))


async def replay_erasures(
    stores: Stores, erasures: list[Erasure], since: datetime, report: RestoreReport
) -> None:
    """Make again every erasure journaled since the backup (less ERASURE_MARGIN). Owners
    the restored database does not know are skipped, so nothing new is created."""
    journal, stores.erasures = stores.erasures, None  # the entries are in a journal already
    try:
        for erasure in erasures:
            if erasure.at < since - ERASURE_MARGIN:
                continue
            async with stores.reading() as read:
                known = await read.owners.get(erasure.owner_id) is not None
            if not known:
                continue
            report.erasures_replayed += 1
            if erasure.erase == OWNER:
                await purge_owner(stores, erasure.owner_id)
                report.owners_erased += 1
            else:
                done = await erase_images(stores, erasure.owner_id, list(erasure.image_ids))
                report.images_erased += done.images
    finally:
        stores.erasures = journal


async def restore(
    stores: Stores,
    source: Path,
    manifest: folder.Manifest,
    erasures: list[Erasure],
    *,
    migrate: Callable[[], Awaitable[None]],
    progress: Progress | None = None,
) -> RestoreReport:
    """Database, blobs, the schema brought up to date, the erasures replayed, verified."""
    began = time.monotonic()
    report = RestoreReport(images=manifest.images)
    await restore_database(stores, source, manifest)
    await migrate()
    await restore_blobs(stores, source, manifest, report, progress)
    await replay_erasures(stores, erasures, manifest.taken_at, report)
    report.check = await verify(stores)
    report.images = report.check.images
    report.seconds = time.monotonic() - began
    return report
