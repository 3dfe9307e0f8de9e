"""Purging: how rows leave for good, without a row ever losing its blob.

Purging removes rows (soft-deleted images, an owner's whole pool) and marks the blobs
they referenced as orphaned; it never deletes bytes itself (see `garbage`). Every purge
is written to the erasure journal before it commits, so a restored backup erases it again
(`resolvers.operations.restore`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from resolvers.lifecycle.garbage import collect_garbage
from resolvers.portability.jobs import remove_owner_exports
from resolvers.stores import Stores
from storage.erasures import IMAGES, OWNER, Erasure
from storage.repositories import UnitOfWork
from storage.tables import utcnow


@dataclass
class PurgeReport:
    images: int = 0
    media_refs: int = 0
    media_objects: int = 0
    blobs_orphaned: int = 0
    data_keys_destroyed: bool = False
    blobs_deleted: int = 0


async def _release(
    tx: UnitOfWork, owner_id: str, object_ids: list[str], report: PurgeReport
) -> None:
    objects, blobs = await tx.lifecycle.release_objects(owner_id, object_ids)
    report.media_objects += objects
    report.blobs_orphaned += blobs


async def _journal(stores: Stores, erasure: Erasure) -> None:
    """Record an erasure durably before the transaction that makes it commits."""
    if stores.erasures is not None:
        await stores.erasures.record(erasure)


async def purge_deleted_images(stores: Stores, *, older_than: timedelta) -> PurgeReport:
    """Remove soft-deleted images (deleted longer ago than `older_than`), media uploaded to
    the pool but never attached to an image for as long, and media nothing uses any more."""
    cutoff = utcnow() - older_than
    report = PurgeReport()
    async with stores.reading() as read:
        owners = await read.lifecycle.owners_with_purgeable(cutoff)
    for owner_id in sorted(owners):
        async with stores.transaction() as tx:
            await tx.owners.lock(owner_id)
            doomed = await tx.lifecycle.images_deleted_before(owner_id, cutoff)
            if doomed:
                await _journal(stores, Erasure(utcnow(), IMAGES, owner_id, tuple(doomed)))
            released_refs = await tx.lifecycle.delete_images_deleted_before(owner_id, cutoff)
            report.images += len(released_refs)
            object_ids = await tx.lifecycle.delete_unattached_uploads(
                owner_id, released_refs, cutoff
            )
            report.media_refs += len(object_ids)
            await _release(tx, owner_id, object_ids, report)
    return report


async def purge_owner(stores: Stores, owner_id: str) -> PurgeReport:
    """Remove everything of one owner: images, media (rows, then bytes) and data keys.

    Once the data keys are gone, copies of the owner's old ciphertexts (backups, the
    event log's snapshots, stored pictures in a copied folder or an old bucket version,
    export archives) can no longer be decrypted by anyone.
    """
    report = PurgeReport()
    async with stores.transaction() as tx:
        await tx.owners.lock(owner_id)
        await _journal(stores, Erasure(utcnow(), OWNER, owner_id))
        report.images, report.media_refs, object_ids = await tx.lifecycle.delete_owner_pool(
            owner_id
        )
        await _release(tx, owner_id, object_ids, report)
        # Their history goes too: the usage ledger, the event log and the generations.
        await tx.uses.delete_owner(owner_id)
        await tx.lifecycle.delete_owner_history(owner_id)
        await tx.lifecycle.destroy_keys(owner_id)
        report.data_keys_destroyed = True
    # Export archives waiting for download are sealed with the keys just destroyed; the
    # files go too.
    await remove_owner_exports(stores, owner_id)
    # The rows are gone; the bytes may go now too (the collector is safe without a grace).
    gc = await collect_garbage(stores, grace=timedelta(0), owner_id=owner_id)
    report.blobs_deleted = gc.blobs_deleted
    return report


async def erase_images(stores: Stores, owner_id: str, image_ids: list[str]) -> PurgeReport:
    """Remove the given images of one owner for good, deleted or not, with the uploads
    and media only they used (a restore replaying an erasure; see `purge_deleted_images`
    for the usual path). Images already gone are skipped."""
    report = PurgeReport()
    async with stores.transaction() as tx:
        await tx.owners.lock(owner_id)
        released_refs = await tx.lifecycle.delete_images(owner_id, image_ids)
        report.images = len(released_refs)
        object_ids = await tx.lifecycle.delete_unattached_uploads(
            owner_id, released_refs, utcnow() - _NEVER
        )
        report.media_refs = len(object_ids)
        await _release(tx, owner_id, object_ids, report)
    gc = await collect_garbage(stores, grace=timedelta(0), owner_id=owner_id)
    report.blobs_deleted = gc.blobs_deleted
    return report


# A cutoff no upload is older than: only the released references themselves are removed.
_NEVER = timedelta(days=365 * 1000)
