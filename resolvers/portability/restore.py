"""Importing an archive: everything checked first, then written in one transaction.

1. The archive's directory and documents are checked (`archive_reader`, `_archived_images`).
2. Each image goes through the upload rule (`resolvers.media.uploads`): accepted as an
   upload is (a file that already is what meimages stores keeps its bytes), its blobs
   registered as orphans and written, one image in memory at a time.
3. One transaction claims the blobs and links every media id (the upload rule's last
   step), then adds every image as the pool adds one, with its slot and events.

If anything fails, nothing is committed and the blobs written in step 2 are removed at
once (`_discard`); if the process dies before that, they stay registered as orphans and
the garbage collector removes them after its grace period. Consent does not travel
unless asked: images arrive with AI use off, unless `keep_consent`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from resolvers.errors import InvalidInput, TooLarge, UnsupportedMediaType
from resolvers.media import uploads
from resolvers.pool.cap import PoolFull
from resolvers.pool.me_images import (
    Image,
    Kind,
    NewImage,
    Slot,
    add_image,
    encrypted_from_json,
    pool_snapshot,
)
from resolvers.portability import archive_format as fmt
from resolvers.portability.archive_reader import ArchiveReader, open_archive
from resolvers.portability.errors import ArchiveProblem, InvalidArchive
from resolvers.stores import Caller, Stores
from storage.eventlog.payload import EventPayload, EventType
from storage.repositories import UnitOfWork
from storage.repositories.media import APP_ME
from storage.sealed import OwnerBlobs
from storage.tables import MeImage, aware, utcnow

# Images validated and stored at once during an import.
CONCURRENT_IMAGES = 2


@dataclass(frozen=True)
class ArchivedImage:
    """One image of pool.json, checked."""

    entry: str
    kind: Kind
    encrypted: Mapping[str, object]
    ai_reference: bool
    show_in_profile: bool
    primary_for: Slot | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class _Prepared:
    archived: ArchivedImage
    # The stored image without its bytes (they are in the blob store by now).
    staged: uploads.StagedImage


@dataclass(frozen=True)
class ImportReport:
    images: list[Image]
    consent_kept: bool


def _bad(message: str, entry: str = fmt.POOL) -> InvalidArchive:
    return InvalidArchive(ArchiveProblem.BAD_FIELD, message, entry=entry)


def _check_manifest(reader: ArchiveReader) -> str | None:
    """Checks the manifest; returns when the archive was exported (as it says), if it does."""
    manifest = reader.document(fmt.MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != fmt.FORMAT:
        raise InvalidArchive(
            ArchiveProblem.WRONG_FORMAT, "this is not a meimages export", entry=fmt.MANIFEST
        )
    version = manifest.get("version")
    if version != fmt.VERSION or isinstance(version, bool):
        raise InvalidArchive(
            ArchiveProblem.UNSUPPORTED_VERSION,
            f"format version {version!r} is not supported (this server reads {fmt.VERSION})",
            entry=fmt.MANIFEST,
        )
    exported = manifest.get("exportedAt")
    return exported if isinstance(exported, str) and len(exported) <= 40 else None


def _timestamp(value: object, name: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise _bad(f"{name} must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"{name} must be an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise _bad(f"{name} must carry its time zone")
    return parsed.astimezone(UTC)


def _flag(usage: Mapping[str, Any], name: str, default: bool) -> bool:
    value = usage.get(name, default)
    if not isinstance(value, bool):
        raise _bad(f"usage.{name} must be true or false")
    return value


def _archived_image(item: object, reader: ArchiveReader) -> tuple[str, ArchivedImage]:
    if not isinstance(item, dict):
        raise _bad("each image must be an object")
    image_id, entry = item.get("id"), item.get("file")
    if not isinstance(image_id, str) or not 0 < len(image_id) <= 64:
        raise _bad("each image needs an id")
    if not isinstance(entry, str) or not fmt.is_image_entry(entry):
        raise _bad(f"image {image_id} names no image file")
    if not entry.startswith(fmt.IMAGES_DIR) or not reader.has(entry):
        raise InvalidArchive(ArchiveProblem.MISSING_FILE, "is missing", entry=entry)
    try:
        kind = Kind(str(item.get("kind")))
        slot = Slot(item["primaryFor"]) if item.get("primaryFor") is not None else None
    except ValueError:
        raise _bad(f"image {image_id} has an unknown kind or primary slot") from None
    usage = item.get("usage", {})
    if not isinstance(usage, dict):
        raise _bad(f"image {image_id}: usage must be an object")
    try:
        encrypted = encrypted_from_json(item)
    except InvalidInput as exc:
        raise _bad(f"image {image_id}: {exc.message}") from None
    archived = ArchivedImage(
        entry=entry,
        kind=kind,
        encrypted=encrypted,
        ai_reference=_flag(usage, "aiReference", False),
        show_in_profile=_flag(usage, "showInProfile", True),
        primary_for=slot,
        created_at=_timestamp(item.get("createdAt"), "createdAt"),
        updated_at=_timestamp(item.get("updatedAt"), "updatedAt"),
    )
    return image_id, archived


def _archived_images(reader: ArchiveReader, max_images: int) -> list[ArchivedImage]:
    pool = reader.document(fmt.POOL)
    images = pool.get("images") if isinstance(pool, dict) else None
    if not isinstance(images, list):
        raise _bad("pool.json must hold a list of images")
    if len(images) > max_images:
        raise InvalidArchive(ArchiveProblem.TOO_MANY_ENTRIES, f"more than {max_images} images")
    found: list[ArchivedImage] = []
    ids: set[str] = set()
    files: set[str] = set()
    slots: set[Slot] = set()
    for item in images:
        image_id, archived = _archived_image(item, reader)
        if image_id in ids or archived.entry in files:
            raise InvalidArchive(
                ArchiveProblem.DUPLICATE_ID, f"image {image_id} appears twice", fmt.POOL
            )
        if archived.primary_for is not None:
            if archived.primary_for in slots:
                raise _bad(f"two images hold the slot {archived.primary_for.value}")
            slots.add(archived.primary_for)
        ids.add(image_id)
        files.add(archived.entry)
        found.append(archived)
    stray = [n for n in reader.entries if n.startswith(fmt.IMAGES_DIR) and n != fmt.IMAGES_DIR]
    if unused := sorted(set(stray) - files):
        raise InvalidArchive(
            ArchiveProblem.UNEXPECTED_ENTRY, "belongs to no image of pool.json", entry=unused[0]
        )
    return found


async def import_archive(
    stores: Stores, caller: Caller, source: Path | IO[bytes], *, keep_consent: bool = False
) -> ImportReport:
    """Restore the archive (a path or an open file) into the caller's pool; all or nothing."""
    written: set[str] = set()
    try:
        with open_archive(source, stores.config.portability, stores.config.limits) as reader:
            # Parsing the documents is blocking work: off the event loop.
            exported = await asyncio.to_thread(_check_manifest, reader)
            limit = stores.config.portability.max_entries
            archived = await asyncio.to_thread(_archived_images, reader, limit)
            owner = await stores.sealed.owner(caller.owner_id)
            prepared = await _prepare_all(stores, caller, owner, reader, archived, written)
        async with stores.transaction() as tx:
            await tx.owners.lock(caller.owner_id)
            await _refuse_repeat(tx, caller, prepared, exported)
            await tx.blobs.claim(written, sealed_with=owner.data_key_id)
            image_ids = await _restore(
                tx, caller, prepared, keep_consent, stores.config.limits.pool_cap
            )
    except BaseException:
        await _discard(stores, written)
        raise
    stores.notifier.notify(caller.owner_id)
    # The pool as any reader now sees it: the new images, decrypted under the new key.
    restored = {image.id: image for image in (await pool_snapshot(stores, caller)).images}
    return ImportReport([restored[i] for i in image_ids if i in restored], keep_consent)


async def _prepare_all(
    stores: Stores,
    caller: Caller,
    owner: OwnerBlobs,
    reader: ArchiveReader,
    archived: list[ArchivedImage],
    written: set[str],
) -> list[_Prepared]:
    """Every image prepared and stored, a few at a time: one decodes while another's
    blobs are written, and memory holds at most that many images."""
    gate = asyncio.Semaphore(CONCURRENT_IMAGES)

    async def one(item: ArchivedImage) -> _Prepared:
        async with gate:
            return await _prepare(stores, caller, owner, reader, item, written)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in archived]
    except BaseExceptionGroup as failed:
        # The first failure is the answer; the group has cancelled the rest.
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def _prepare(
    stores: Stores,
    caller: Caller,
    owner: OwnerBlobs,
    reader: ArchiveReader,
    archived: ArchivedImage,
    written: set[str],
) -> _Prepared:
    """Accept one image as an upload, then write its blobs (registered first)."""
    data = await asyncio.to_thread(
        reader.read, archived.entry, stores.config.limits.max_upload_bytes
    )
    try:
        # One act of the import, not an upload of its own: not counted as one.
        image = await uploads.accept_upload(stores, caller, data, counted=False, keep_plain=True)
    except (UnsupportedMediaType, TooLarge, InvalidInput) as exc:
        raise InvalidArchive(
            ArchiveProblem.IMAGE_REJECTED,
            f"is refused as an upload would be: {exc.message}",
            entry=archived.entry,
        ) from None
    del data
    staged = await uploads.stage_blobs(stores, owner, image, registered=written)
    return _Prepared(archived, staged)


async def _refuse_repeat(
    tx: UnitOfWork, caller: Caller, prepared: list[_Prepared], exported: str | None
) -> None:
    """An archive whose every image is already in the space (the same picture, made at
    the same moment) was imported before: refused, rather than duplicating the pool."""
    if not prepared:
        return
    pool = await tx.pool.live_images(caller.owner_id, caller.space_id)
    present = {(stored.media.sha256, aware(stored.row.created_at)) for stored in pool}
    if all((p.staged.sha256, p.archived.created_at) in present for p in prepared):
        which = f"the archive exported {exported}" if exported else "this archive"
        raise InvalidArchive(
            ArchiveProblem.ALREADY_IMPORTED,
            f"{which} is already imported into space {caller.space_id!r}: its "
            f"{len(prepared)} images are in the pool; nothing was imported again",
            entry=fmt.MANIFEST,
        )


async def _restore(
    tx: UnitOfWork, caller: Caller, prepared: list[_Prepared], keep_consent: bool, cap: int
) -> list[str]:
    # The pool cap holds for imports as for uploads: all of the archive fits, or none of it.
    if await tx.pool.live_count(caller.owner_id, caller.space_id) + len(prepared) > cap:
        raise PoolFull(cap)
    rows: list[tuple[MeImage, Slot | None]] = []
    for item in prepared:
        rows.append((await _insert(tx, caller, item, keep_consent), item.archived.primary_for))
    for row, slot in rows:
        if slot is not None:
            await _take_slot(tx, caller, row, slot)
    return [row.id for row, _slot in rows]


async def _insert(tx: UnitOfWork, caller: Caller, item: _Prepared, keep_consent: bool) -> MeImage:
    archived = item.archived
    media = await uploads.link_media(tx, caller, item.staged, APP_ME)
    new = NewImage(
        media_id=media.id,
        kind=archived.kind,
        encrypted=archived.encrypted,
        show_in_profile=archived.show_in_profile,
        ai_reference=keep_consent and archived.ai_reference,
    )
    return await add_image(
        tx, caller, new, created_at=archived.created_at, updated_at=archived.updated_at
    )


async def _take_slot(tx: UnitOfWork, caller: Caller, row: MeImage, slot: Slot) -> None:
    """The archive's slot holders win over the pool's: the old holder loses the slot."""
    contenders = await tx.pool.slot_contenders(caller.owner_id, caller.space_id, row.id, slot.value)
    for (holder, _media, _ref), _uses in contenders:
        if holder.id != row.id and holder.primary_for == slot.value:
            await tx.pool.set_slot(holder, None, utcnow())
            await _event(tx, caller, EventType.PRIMARY_CHANGED, holder.id, previous_slot=slot.value)
    row.primary_for = slot.value
    await tx.pool.save(row)
    await _event(tx, caller, EventType.PRIMARY_CHANGED, row.id, slot=slot.value)


async def _event(
    tx: UnitOfWork, caller: Caller, type: EventType, image_id: str, **payload: Any
) -> None:
    await tx.events.append(
        caller.owner_id, caller.space_id, type, image_id, EventPayload(**payload)
    )


async def _discard(stores: Stores, keys: set[str]) -> None:
    """Remove the blobs this import wrote that nothing references (a failed import)."""
    if not keys:
        return
    async with stores.transaction() as tx:
        locked = await tx.blobs.lock(keys)
        orphaned = [blob.key for blob in locked if blob.orphaned_at is not None]
        referenced = await tx.blobs.referenced(orphaned) if orphaned else set()
        doomed = [key for key in orphaned if key not in referenced]
        await asyncio.gather(*(stores.blobs.delete(key) for key in doomed))
        if doomed:
            await tx.blobs.forget(doomed)
