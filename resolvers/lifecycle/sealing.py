"""Sealing what was stored in the clear: the conversion `meimages migrate` runs.

Media objects stored before sealing keep plaintext bytes under names of the content hash
(`o/…`). The conversion rewrites each object's renditions and cached variants sealed,
under keyed names (`storage.sealed`), by the upload's own protocol, so a kill at any
point leaves every row pointing at bytes that exist and nothing untracked:
1. register the new names and write the sealed bytes (nothing points at them yet);
2. in one transaction under the owner's lock, point the rows that still hold the old
   names at the new ones and orphan the old names;
3. delete the old bytes (or, after a kill, the next run or the collector does).
Each object is done or not done; a run after a kill carries on with those left, and a run
with nothing left to do does nothing. Servers serve both formats meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from resolvers.lifecycle.garbage import collect_released
from resolvers.stores import Stores
from storage.repositories.blobs import RegistrationLost
from storage.sealed import LEGACY_PREFIX, MEDIUM, ORIGINAL, THUMBNAIL, is_sealed_name
from storage.tables import MediaObject, MediaVariant, utcnow

log = logging.getLogger("meimages.sealing")

_BATCH = 50
# (objects done, objects to do in this run)
Progress = Callable[[int, int], Awaitable[None] | None]


@dataclass
class SealingReport:
    objects_sealed: int = 0
    blobs_sealed: int = 0
    plaintext_deleted: int = 0
    # Renditions whose bytes were already missing: the row keeps its name (and stays
    # as unreadable as it was); `meimages gc` and the logs tell about them.
    missing: int = 0


async def count_unsealed(stores: Stores) -> int:
    """How many media objects still hold a rendition or variant in plaintext."""
    async with stores.reading() as read:
        return await read.media.count_unsealed_objects()


async def seal_stored_media(stores: Stores, progress: Progress | None = None) -> SealingReport:
    """Seal every media object still stored in plaintext; safe to run again at any time."""
    report = SealingReport()
    total = await count_unsealed(stores)
    done = 0
    after = ""
    while True:
        async with stores.reading() as read:
            batch = await read.media.unsealed_objects(after=after, limit=_BATCH)
        if not batch:
            break
        after = batch[-1]
        for object_id in batch:
            await _seal_object(stores, object_id, report)
            done += 1
            if progress is not None:
                shown = progress(done, max(total, done))
                if shown is not None:
                    await shown
    # Old names a killed run (or an upload that sealed an object again) left orphaned.
    report.plaintext_deleted += await _delete_released_plaintext(stores)
    return report


def _renditions(obj: MediaObject, variants: list[MediaVariant]) -> dict[str, str]:
    """role -> stored name, for every rendition of the object still in plaintext."""
    named = {ORIGINAL: obj.storage_path, THUMBNAIL: obj.thumbnail_path, MEDIUM: obj.medium_path}
    named |= {variant.spec: variant.storage_path for variant in variants}
    return {role: key for role, key in named.items() if key and not is_sealed_name(key)}


async def _seal_object(stores: Stores, object_id: str, report: SealingReport) -> None:
    async with stores.reading() as read:
        found = await read.media.object_with_variants(object_id)
    if found is None:
        return  # purged meanwhile
    obj, variants = found
    owner = await stores.sealed.owner(obj.owner_id)
    plaintext: dict[str, tuple[str, bytes]] = {}  # role -> (old name, bytes)
    for role, old in _renditions(obj, variants).items():
        data = await stores.sealed.get(obj.owner_id, old)
        if data is None:
            log.warning("media object %s: rendition %s has no bytes; left as it is", obj.id, role)
            report.missing += 1
            continue
        plaintext[role] = (old, data)
    if not plaintext:
        return
    new = {role: owner.name(obj.sha256, role) for role in plaintext}
    async with stores.transaction() as tx:
        await tx.blobs.register(obj.owner_id, new.values())
    await asyncio.gather(*(owner.put(new[role], data) for role, (_old, data) in plaintext.items()))
    plan = {role: (old, new[role]) for role, (old, _data) in plaintext.items()}
    del plaintext
    try:
        async with stores.transaction() as tx:
            await tx.owners.lock(obj.owner_id, bump=False)
            current = await tx.media.object_with_variants(object_id, lock=True)
            if current is None:
                return  # purged meanwhile: the new names stay orphaned for the collector
            obj, variants = current
            moved = _repoint(obj, variants, plan)
            if not moved:
                return
            await tx.blobs.claim([name for _old, name in moved], sealed_with=owner.data_key_id)
            await tx.blobs.orphan(obj.owner_id, [old for old, _new in moved], utcnow())
            await tx.media.save(obj)
            for variant in variants:
                await tx.media.save(variant)
    except RegistrationLost:
        return  # the owner was purged meanwhile (key destroyed, names collected)
    report.objects_sealed += 1
    report.blobs_sealed += len(moved)
    report.plaintext_deleted += await collect_released(
        stores, [old for old, _new in moved], now=utcnow()
    )


def _repoint(
    obj: MediaObject, variants: list[MediaVariant], plan: dict[str, tuple[str, str]]
) -> list[tuple[str, str]]:
    """Point the rows that still hold an old name at its sealed replacement; the
    (old, new) pairs that moved. A name changed meanwhile (an upload sealed the object
    again) is left alone: its replacement stays orphaned for the collector."""
    moved: list[tuple[str, str]] = []
    columns = {ORIGINAL: "storage_path", THUMBNAIL: "thumbnail_path", MEDIUM: "medium_path"}
    by_spec = {variant.spec: variant for variant in variants}
    for role, (old, new) in plan.items():
        row: MediaObject | MediaVariant | None
        row, column = (
            (obj, columns[role]) if role in columns else (by_spec.get(role), "storage_path")
        )
        if row is not None and getattr(row, column) == old:
            setattr(row, column, new)
            moved.append((old, new))
    return moved


async def _delete_released_plaintext(stores: Stores) -> int:
    """Delete the bytes of every orphaned old name (nothing writes old names any more)."""
    keys: list[str] = []
    after = ""
    now = utcnow()
    while True:
        async with stores.reading() as read:
            batch = await read.blobs.orphaned_since(
                now, after=after, limit=500, owner_id=None, prefix=LEGACY_PREFIX
            )
        if not batch:
            break
        keys += batch
        after = batch[-1]
    return await collect_released(stores, keys, now=now) if keys else 0
