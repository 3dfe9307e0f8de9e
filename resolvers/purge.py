"""Purging and garbage collection: how bytes leave, without a row ever losing its blob.

Purging removes rows (soft-deleted images, an owner's whole pool) and marks the blobs
they referenced as orphaned; it never deletes bytes itself. The garbage collector
deletes the bytes of blobs that have been orphaned for longer than a grace period,
holding the blob's registration locked while it does, so an upload that reuses the
key either finds its registration gone and writes again, or keeps it alive in time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from resolvers.media import APP_ME
from resolvers.owners import lock_owner
from resolvers.stores import Stores
from storage.eventlog import snapshot
from storage.tables import (
    GenerationRecord,
    MediaBlob,
    MediaObject,
    MediaRef,
    MediaVariant,
    MeImage,
    MeImageEvent,
    utcnow,
)

log = logging.getLogger("meimages.purge")

_GC_BATCH = 100


@dataclass
class PurgeReport:
    images: int = 0
    media_refs: int = 0
    media_objects: int = 0
    blobs_orphaned: int = 0
    data_keys_destroyed: bool = False
    blobs_deleted: int = 0


@dataclass
class GcReport:
    blobs_deleted: int = 0
    still_referenced: int = 0
    untracked_registered: int = 0
    incomplete_removed: int = 0
    deleted_keys: list[str] = field(default_factory=list)


async def _object_keys(session: AsyncSession, object_ids: list[str]) -> list[str]:
    keys: list[str] = []
    objects = (
        await session.execute(select(MediaObject).where(col(MediaObject.id).in_(object_ids)))
    ).scalars()
    for obj in objects:
        keys += [obj.storage_path, obj.thumbnail_path]
        if obj.medium_path:
            keys.append(obj.medium_path)
    variants = await session.execute(
        select(col(MediaVariant.storage_path)).where(
            col(MediaVariant.media_object_id).in_(object_ids)
        )
    )
    keys += list(variants.scalars())
    return keys


async def _release_objects(
    session: AsyncSession, owner_id: str, object_ids: Iterable[str], report: PurgeReport
) -> None:
    """Delete media objects no reference uses any more; their blobs become orphans."""
    candidates = sorted(set(object_ids))
    if not candidates:
        return
    still_used = set(
        (
            await session.execute(
                select(col(MediaRef.media_object_id)).where(
                    col(MediaRef.media_object_id).in_(candidates)
                )
            )
        ).scalars()
    )
    unused = [oid for oid in candidates if oid not in still_used]
    if not unused:
        return
    keys = await _object_keys(session, unused)
    await session.execute(delete(MediaVariant).where(col(MediaVariant.media_object_id).in_(unused)))
    await session.execute(
        delete(MediaObject).where(
            col(MediaObject.id).in_(unused), col(MediaObject.owner_id) == owner_id
        )
    )
    now = utcnow()
    await _register_orphans(session, owner_id, keys, now)
    report.media_objects += len(unused)
    report.blobs_orphaned += len(set(keys))


async def _register_orphans(
    session: AsyncSession, owner_id: str, keys: Iterable[str], now: datetime
) -> None:
    """Mark keys orphaned as of `now`, registering any the registry did not know."""
    rows = [
        {"key": key, "owner_id": owner_id, "created_at": now, "orphaned_at": now}
        for key in sorted(set(keys))
    ]
    if not rows:
        return
    table = MediaBlob.__table__  # type: ignore[attr-defined]
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(rows)
        await session.execute(
            pg.on_conflict_do_update(index_elements=[table.c.key], set_={"orphaned_at": now})
        )
    else:
        lite = sqlite.insert(table).values(rows)
        await session.execute(
            lite.on_conflict_do_update(index_elements=[table.c.key], set_={"orphaned_at": now})
        )


async def purge_deleted_images(stores: Stores, *, older_than: timedelta) -> PurgeReport:
    """Remove soft-deleted images (deleted longer ago than `older_than`), media uploaded to
    the pool but never attached to an image for as long, and media nothing uses any more."""
    cutoff = utcnow() - older_than
    report = PurgeReport()
    async with stores.db.session() as session:
        owners = set(
            (
                await session.execute(
                    select(col(MeImage.owner_id)).where(col(MeImage.deleted_at) < cutoff).distinct()
                )
            ).scalars()
        )
        owners |= set(
            (
                await session.execute(
                    select(col(MediaRef.owner_id))
                    .where(
                        col(MediaRef.app) == APP_ME,
                        col(MediaRef.created_at) < cutoff,
                        ~exists().where(col(MeImage.media_ref_id) == col(MediaRef.id)),
                    )
                    .distinct()
                )
            ).scalars()
        )
    for owner_id in sorted(owners):
        async with stores.db.transaction() as session:
            await lock_owner(session, owner_id)
            gone = (
                await session.execute(
                    select(col(MeImage.id), col(MeImage.media_ref_id)).where(
                        col(MeImage.owner_id) == owner_id, col(MeImage.deleted_at) < cutoff
                    )
                )
            ).all()
            if gone:
                await session.execute(
                    delete(MeImage).where(col(MeImage.id).in_([row[0] for row in gone]))
                )
                # The event log keeps what happened, not what the purged images held.
                await snapshot.forget(session, [row[0] for row in gone])
            report.images += len(gone)
            refs = (
                await session.execute(
                    select(col(MediaRef.id), col(MediaRef.media_object_id)).where(
                        col(MediaRef.owner_id) == owner_id,
                        col(MediaRef.app) == APP_ME,
                        or_(
                            col(MediaRef.id).in_([row[1] for row in gone]),
                            col(MediaRef.created_at) < cutoff,
                        ),
                        ~exists().where(col(MeImage.media_ref_id) == col(MediaRef.id)),
                    )
                )
            ).all()
            if refs:
                await session.execute(
                    delete(MediaRef).where(col(MediaRef.id).in_([row[0] for row in refs]))
                )
            report.media_refs += len(refs)
            await _release_objects(session, owner_id, [row[1] for row in refs], report)
    return report


async def purge_owner(stores: Stores, owner_id: str) -> PurgeReport:
    """Remove everything of one owner: images, media (rows, then bytes) and data keys.

    Once the data keys are gone, copies of the owner's old ciphertexts (backups, the
    event log's snapshots) can no longer be decrypted by anyone.
    """
    report = PurgeReport()
    async with stores.db.transaction() as session:
        await lock_owner(session, owner_id)
        images = await session.execute(delete(MeImage).where(col(MeImage.owner_id) == owner_id))
        report.images = int(images.rowcount or 0)  # type: ignore[attr-defined]
        object_ids = list(
            (
                await session.execute(
                    select(col(MediaObject.id)).where(col(MediaObject.owner_id) == owner_id)
                )
            ).scalars()
        )
        refs = await session.execute(delete(MediaRef).where(col(MediaRef.owner_id) == owner_id))
        report.media_refs = int(refs.rowcount or 0)  # type: ignore[attr-defined]
        await _release_objects(session, owner_id, object_ids, report)
        # Their history goes too: the event log and the generations (prompts, outputs).
        await session.execute(delete(MeImageEvent).where(col(MeImageEvent.owner_id) == owner_id))
        await session.execute(
            delete(GenerationRecord).where(col(GenerationRecord.owner_id) == owner_id)
        )
        await stores.vault.destroy_owner_keys(session, owner_id)
        report.data_keys_destroyed = True
    # The rows are gone; the bytes may go now too (the collector is safe without a grace).
    gc = await collect_garbage(stores, grace=timedelta(0), owner_id=owner_id)
    report.blobs_deleted = gc.blobs_deleted
    return report


async def _referenced(session: AsyncSession, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for path in (MediaObject.storage_path, MediaObject.thumbnail_path, MediaObject.medium_path):
        column = col(path)
        rows = await session.execute(select(column).where(column.in_(keys)))
        found |= {key for key in rows.scalars() if key is not None}
    variant_path = col(MediaVariant.storage_path)
    found |= set(
        (await session.execute(select(variant_path).where(variant_path.in_(keys)))).scalars()
    )
    return found


async def collect_garbage(
    stores: Stores,
    *,
    grace: timedelta,
    owner_id: str | None = None,
    sweep: bool = False,
    now: datetime | None = None,
) -> GcReport:
    """Delete the bytes of blobs orphaned for longer than `grace`, then their registrations.

    With `sweep`, first walk the whole store and register blobs the registry does not
    know (left by older versions or by hand) as orphans, so a later run can remove them.
    """
    report = GcReport()
    now = now or utcnow()
    if sweep:
        report.untracked_registered = await _register_untracked(stores, now)
    cutoff = now - grace
    after = ""
    while True:
        query = (
            select(col(MediaBlob.key))
            .where(col(MediaBlob.orphaned_at) <= cutoff, col(MediaBlob.key) > after)
            .order_by(col(MediaBlob.key))
            .limit(_GC_BATCH)
        )
        if owner_id is not None:
            query = query.where(col(MediaBlob.owner_id) == owner_id)
        async with stores.db.session() as session:
            batch = list((await session.execute(query)).scalars())
        if not batch:
            break
        after = batch[-1]
        await _collect_batch(stores, batch, cutoff, report)
    report.incomplete_removed = await stores.blobs.discard_incomplete(cutoff)
    return report


async def _collect_batch(
    stores: Stores, keys: list[str], cutoff: datetime, report: GcReport
) -> None:
    async with stores.db.transaction() as session:
        # Locked in key order, like every other writer of registrations.
        locked = (
            (
                await session.execute(
                    select(MediaBlob)
                    .where(col(MediaBlob.key).in_(keys))
                    .order_by(col(MediaBlob.key))
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        due = [
            blob.key
            for blob in locked
            if blob.orphaned_at is not None and _aware(blob.orphaned_at) <= cutoff
        ]
        if not due:
            return
        referenced = await _referenced(session, due)
        if referenced:
            # A registration that lost track of its reference: repair it, never delete.
            log.warning("blobs marked orphaned are still referenced: %s", sorted(referenced))
            await session.execute(
                update(MediaBlob)
                .where(col(MediaBlob.key).in_(sorted(referenced)))
                .values(orphaned_at=None)
            )
            report.still_referenced += len(referenced)
        doomed = [key for key in due if key not in referenced]
        # Bytes first, registration second, both under the lock: if we crash in between,
        # the registration stays and the next run deletes (already missing) bytes again.
        await asyncio.gather(*(stores.blobs.delete(key) for key in doomed))
        await session.execute(delete(MediaBlob).where(col(MediaBlob.key).in_(doomed)))
        report.blobs_deleted += len(doomed)
        report.deleted_keys += doomed


async def _register_untracked(stores: Stores, now: datetime) -> int:
    registered = 0
    chunk: list[str] = []

    async def flush() -> int:
        async with stores.db.transaction() as session:
            known = set(
                (
                    await session.execute(
                        select(col(MediaBlob.key)).where(col(MediaBlob.key).in_(chunk))
                    )
                ).scalars()
            )
            unknown = [key for key in chunk if key not in known]
            for key in unknown:
                session.add(MediaBlob(key=key, owner_id="", created_at=now, orphaned_at=now))
            await session.flush()
        chunk.clear()
        return len(unknown)

    async for info in stores.blobs.list_blobs():
        chunk.append(info.key)
        if len(chunk) >= 500:
            registered += await flush()
    if chunk:
        registered += await flush()
    return registered


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we write is UTC.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


async def collect_garbage_periodically(
    stores: Stores, *, interval: timedelta, grace: timedelta
) -> None:
    """The collector on a timer, for as long as the server runs (cancelled on shutdown)."""
    while True:
        await asyncio.sleep(interval.total_seconds())
        try:
            report = await collect_garbage(stores, grace=grace)
            if report.blobs_deleted or report.incomplete_removed:
                log.info(
                    "garbage collector removed %d blobs and %d incomplete writes",
                    report.blobs_deleted,
                    report.incomplete_removed,
                )
        except Exception:
            # A failed round (database or store briefly down) must not end the timer.
            log.exception("garbage collection failed; retrying at the next interval")
