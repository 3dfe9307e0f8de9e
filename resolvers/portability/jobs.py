"""Exports from GraphQL: a job row, the archive built in the background, its progress,
and a signed, expiring download URL once it is done.

The job is a row, so any instance can report its progress; the archive is a file in the
export folder of the instance that built it (see the README on several instances).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from resolvers.config.portability import ARCHIVE_VARIANT
from resolvers.errors import NotFound
from resolvers.portability.export import write_archive
from resolvers.stores import Caller, Stores
from storage.crypto import DecryptionError
from storage.sealed_files import is_sealed_file
from storage.tables import ExportJob, aware, utcnow

log = logging.getLogger("meimages.portability")

# A running job that has not moved for this long lost its process.
STALE_AFTER = timedelta(minutes=10)
_CLEANUP_BATCH = 100
# How many of the caller's exports `recent_exports` lists.
RECENT = 20
# Strong references: the event loop keeps only weak ones to its tasks.
_BUILDING: set[asyncio.Task[None]] = set()


class ExportStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Export:
    """An export job as the API shows it."""

    id: str
    status: ExportStatus
    images_total: int
    images_done: int
    byte_size: int | None
    download_url: str | None
    failure: str | None
    created_at: datetime
    completed_at: datetime | None
    expires_at: datetime


def archive_path(stores: Stores, job_id: str) -> Path:
    return stores.config.portability.export_dir / f"{job_id}.zip"


def _view(stores: Stores, job: ExportJob, now: datetime) -> Export:
    status = ExportStatus(job.status)
    failure = job.failure
    expires = aware(job.expires_at)
    if status is ExportStatus.RUNNING and aware(job.updated_at) < now - STALE_AFTER:
        status, failure = ExportStatus.FAILED, "interrupted: start a new export"
    if status is ExportStatus.DONE and expires <= now:
        status = ExportStatus.EXPIRED
    url = None
    signer = stores.config.portability.downloads
    if status is ExportStatus.DONE and signer is not None:
        url = signer.url(job.id, ARCHIVE_VARIANT, job.owner_id, now=now.timestamp())
    return Export(
        id=job.id,
        status=status,
        images_total=job.images_total,
        images_done=job.images_done,
        byte_size=job.byte_size,
        download_url=url,
        failure=failure,
        created_at=aware(job.created_at),
        completed_at=aware(job.completed_at) if job.completed_at else None,
        expires_at=expires,
    )


async def start_export(stores: Stores, caller: Caller) -> Export:
    """Record a job and build its archive in the background; poll `export_job` for progress.

    While one export of the space is running, asking again answers with that one: a
    caller cannot start builds faster than they finish."""
    now = utcnow()
    # Old archives go when new ones are asked for: no timer needed for a rare act.
    await remove_expired_exports(stores, now)
    job = ExportJob(
        owner_id=caller.owner_id,
        space_id=caller.space_id,
        status=ExportStatus.RUNNING.value,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=stores.config.portability.archive_ttl_s),
    )
    async with stores.transaction() as tx:
        # Serializes this owner's requests; no data of theirs changes, so no version bump.
        await tx.owners.lock(caller.owner_id, bump=False)
        latest = await tx.portability.recent_jobs(caller.owner_id, caller.space_id, 1)
        if latest and _view(stores, latest[0], now).status is ExportStatus.RUNNING:
            return _view(stores, latest[0], now)
        await tx.portability.add_job(job)
        view = _view(stores, job, now)
    task = asyncio.create_task(build_export(stores, caller, job.id))
    _BUILDING.add(task)
    task.add_done_callback(_BUILDING.discard)
    return view


async def export_job(stores: Stores, caller: Caller, job_id: str) -> Export:
    async with stores.reading() as read:
        job = await read.portability.job(caller.owner_id, caller.space_id, job_id)
    if job is None:
        raise NotFound("Export")
    return _view(stores, job, utcnow())


async def recent_exports(stores: Stores, caller: Caller) -> list[Export]:
    """The caller's exports in this space, newest first (expired ones are removed by the
    next export, so few are ever kept)."""
    async with stores.reading() as read:
        jobs = await read.portability.recent_jobs(caller.owner_id, caller.space_id, RECENT)
    now = utcnow()
    return [_view(stores, job, now) for job in jobs]


async def build_export(stores: Stores, caller: Caller, job_id: str) -> None:
    """Write the archive and record the outcome; a failure is recorded, never raised."""

    async def progress(done: int, total: int) -> None:
        # Every tenth image and the last: progress without a write per image.
        if done % 10 and done != total:
            return
        async with stores.transaction() as tx:
            job = await tx.portability.any_job(job_id)
            if job is not None:
                job.images_total, job.images_done, job.updated_at = total, done, utcnow()

    path = archive_path(stores, job_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Sealed for its owner while it waits: a purge (or an expired key) makes it noise.
        summary = await write_archive(stores, caller, path, progress, sealed=True)
    except Exception:
        log.exception("export %s failed", job_id)
        await _finish(stores, job_id, failure="the archive could not be built; try again")
        return
    await _finish(stores, job_id, total=summary.images, byte_size=summary.byte_size)


async def _finish(
    stores: Stores,
    job_id: str,
    *,
    total: int | None = None,
    byte_size: int | None = None,
    failure: str | None = None,
) -> None:
    now = utcnow()
    async with stores.transaction() as tx:
        job = await tx.portability.any_job(job_id)
        if job is None:  # its owner was purged meanwhile
            archive_path(stores, job_id).unlink(missing_ok=True)
            return
        job.updated_at = job.completed_at = now
        if failure is not None:
            job.status, job.failure = ExportStatus.FAILED.value, failure
        else:
            job.status, job.byte_size = ExportStatus.DONE.value, byte_size
            job.file_name = archive_path(stores, job_id).name
            job.images_total = job.images_done = total or 0


async def archive_for_download(stores: Stores, job_id: str) -> tuple[str, Path] | None:
    """(owner id, archive path) of a finished, unexpired export; None for anything else."""
    async with stores.reading() as read:
        job = await read.portability.any_job(job_id)
    if job is None or job.status != ExportStatus.DONE.value or job.file_name is None:
        return None
    if aware(job.expires_at) <= utcnow():
        return None
    path = stores.config.portability.export_dir / job.file_name
    return (job.owner_id, path) if path.is_file() else None


@dataclass(frozen=True)
class ArchiveDownload:
    """What a download streams: the archive's plaintext, segment by segment (iterate it
    off the event loop), or the file itself for an archive written before sealing."""

    size: int  # of the plaintext (0 for a plaintext file: its size is on disk)
    segments: Iterator[bytes] | None = None
    plaintext_file: Path | None = None


async def open_archive(stores: Stores, owner_id: str, path: Path) -> ArchiveDownload | None:
    """The archive of a finished export, opened for download; None if it does not open."""
    try:
        if not await asyncio.to_thread(is_sealed_file, path):
            # Built by a version before sealing; it expires like any other.
            return ArchiveDownload(0, plaintext_file=path)
        size, segments = await stores.sealed.file_reader(owner_id, path, path.name)
    except (DecryptionError, OSError):
        log.warning("export archive %s does not open", path.name)
        return None
    return ArchiveDownload(size, segments)


async def remove_owner_exports(stores: Stores, owner_id: str) -> int:
    """Delete every archive and job of an owner (a purge; the archives are sealed with the
    keys it destroys, and go too)."""
    async with stores.transaction() as tx:
        jobs = await tx.portability.owner_jobs(owner_id)
        for job in jobs:
            archive_path(stores, job.id).unlink(missing_ok=True)
            await tx.portability.delete_job(job)
    return len(jobs)


async def remove_expired_exports(stores: Stores, now: datetime | None = None) -> int:
    """Delete expired archives and their jobs; how many."""
    now = now or utcnow()
    removed = 0
    while True:  # bounded: each round deletes the rows it found
        async with stores.transaction() as tx:
            jobs = await tx.portability.expired_jobs(now, _CLEANUP_BATCH)
            for job in jobs:
                archive_path(stores, job.id).unlink(missing_ok=True)
                await tx.portability.delete_job(job)
        removed += len(jobs)
        if len(jobs) < _CLEANUP_BATCH:
            return removed
