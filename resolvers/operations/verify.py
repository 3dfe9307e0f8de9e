"""Whether a data folder is whole: `meimages verify`, and the crash test's checker.

Whole means: every row's blob is there and reads back as the bytes its row names, no
blob is unknown to the registry the garbage collector works from, every ciphertext opens
with the configured master keys, and the slot invariants hold. `violations` is the part
that needs only the database snapshot and the list of stored keys: the crash test runs it
on the state a killed (or frozen) server left.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from resolvers.stores import Stores
from storage import backup as backup_folder
from storage.integrity import (
    DbState,
    StoredObject,
    read_state,
    read_state_in,
    snapshot,
    stored_objects,
    undecryptable,
)

# Blobs read at once while checking their bytes.
_READ_CONCURRENCY = 8

Progress = Callable[[int, int, int], None]


def violations(db: DbState, blob_keys: set[str]) -> list[str]:
    """What must hold whenever no server is writing (it is dead, frozen or between
    transactions), whatever it was doing."""
    found = []
    for what, path in db.referenced:
        if what == "media_object.medium_path" and path is None:
            continue  # legal for objects stored before the medium variant existed
        if path is None or path not in blob_keys:
            found.append(f"{what} points at missing blob {path}")
    for key, live in db.registry.items():
        if live and key not in blob_keys:
            found.append(f"registered as referenced but missing: {key}")
    for key in sorted(blob_keys - db.registry.keys()):
        found.append(f"blob nobody tracks: {key}")
    found += [f"media_ref {ref} without media_object" for ref in db.refs_without_object]
    found += [f"me_image {image} without media_ref" for image in db.images_without_ref]
    found += [
        f"slot {slot} of {owner!r} in space {space!r} held by {count} live images"
        for owner, space, slot, count in db.slot_holders
        if count > 1
    ]
    found += [f"me_image {image} is deleted but holds a slot" for image in db.deleted_holders]
    found += [f"me_image {image} holds another owner's media" for image in db.foreign_refs]
    found += [f"media_ref {ref} held by several live images" for ref in db.shared_refs]
    return found


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    images: int = 0
    blobs: int = 0
    blobs_read: int = 0
    bytes: int = 0
    # Unreferenced blobs the registry knows: the collector removes them after its grace.
    awaiting_collector: int = 0

    @property
    def whole(self) -> bool:
        return not self.problems


async def verify(
    stores: Stores,
    *,
    folder: Path | None = None,
    read_blobs: bool = True,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check the database and blob store of `stores` (and, given the data `folder`,
    whether it is a backup that never finished)."""
    report = VerifyReport()
    if folder is not None and backup_folder.unfinished(folder):
        report.problems.append(
            f"{folder} is a backup that did not finish ({backup_folder.INCOMPLETE} is there)"
        )
    # The store is listed before the snapshot: a blob's registration commits before its
    # bytes are written, so no blob listed can be unknown to the later snapshot. A key
    # the snapshot names but the listing missed may have been written in between: it is
    # looked up once more before it counts as missing.
    stored = {info.key: info.size async for info in stores.blobs.list_blobs()}
    async with snapshot(stores.db) as conn:
        state = await read_state_in(conn)
        objects = await stored_objects(conn)
    named = {path for _what, path in state.referenced if path is not None}
    named |= {key for key, live in state.registry.items() if live}
    for key in sorted(named - stored.keys()):
        if await stores.blobs.exists(key):
            stored[key] = 0
    # Likewise a blob the collector removed (bytes, then registration) in between.
    for key in sorted(stored.keys() - state.registry.keys()):
        if not await stores.blobs.exists(key):
            del stored[key]
    report.images, report.blobs = state.live_images, len(stored)
    report.problems += violations(state, set(stored))
    report.awaiting_collector = sum(
        1 for key, live in state.registry.items() if not live and key in stored
    )
    report.problems += await undecryptable(stores.db, stores.vault)
    if read_blobs:
        present = [obj for obj in objects if obj.key in stored]
        report.problems += await _read_all(stores, present, report, progress)
    return report


def check_backup_blobs(folder: Path) -> list[str]:
    """A backup without its database at hand (a PostgreSQL dump): whether it finished,
    and whether every blob its manifest lists is there with the bytes it had."""
    if backup_folder.unfinished(folder):
        return [f"{folder} is a backup that did not finish ({backup_folder.INCOMPLETE} is there)"]
    try:
        manifest = backup_folder.read_manifest(folder)
    except backup_folder.BackupFormatError as exc:
        return [str(exc)]
    found = []
    for entry in manifest.blobs:
        try:
            data = (folder / backup_folder.MEDIA / entry.key).read_bytes()
        except FileNotFoundError:
            found.append(f"blob {entry.key} of the manifest is missing")
            continue
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            found.append(f"blob {entry.key} does not match the manifest's SHA-256")
    return found


async def _open(stores: Stores, obj: StoredObject, stored: bytes) -> bytes:
    """The bytes of a stored object as its owner reads them: opened with the owner's key
    (sealed media), so a ciphertext that does not open is reported, never skipped."""
    return await stores.sealed.open(obj.owner_id, obj.key, stored)


async def _read_all(
    stores: Stores,
    objects: list[StoredObject],
    report: VerifyReport,
    progress: Progress | None,
) -> list[str]:
    """Read every object a row names through the store and open it for its owner (so a
    ciphertext that does not open is a failed read), and compare each original with the
    hash its row names. An object several rows name is read once per row."""
    found: list[str] = []
    gate = asyncio.Semaphore(_READ_CONCURRENCY)

    async def check(obj: StoredObject) -> None:
        async with gate:
            try:
                stored = await stores.blobs.get(obj.key)
                data = None if stored is None else await _open(stores, obj, stored)
            except Exception as exc:  # any failure to read or open is what verify reports
                found.append(f"blob {obj.key} does not read: {type(exc).__name__}: {exc}")
                return
        report.blobs_read += 1
        if data is None:
            found.append(f"blob {obj.key} vanished while being read")
            return
        report.bytes += len(data)
        if obj.sha256 is not None and hashlib.sha256(data).hexdigest() != obj.sha256:
            found.append(f"blob {obj.key} does not match its SHA-256")
        if progress is not None:
            progress(report.blobs_read, len(objects), report.bytes)

    await asyncio.gather(*(check(obj) for obj in objects))
    return sorted(found)


__all__ = ["DbState", "VerifyReport", "read_state", "verify", "violations"]
