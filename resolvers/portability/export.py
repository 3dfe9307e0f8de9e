"""Writing an owner's pool and history into a zip on disk, one image at a time.

Memory stays flat whatever the pool's size: each image's bytes are read from the blob
store, written into the zip and dropped before the next; generations are read in
batches and written as they come. The archive is written under a temporary name and
renamed when complete, so a half-written archive is never offered.
"""

from __future__ import annotations

import asyncio
import json
import os
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from resolvers.generation import ledger
from resolvers.pool.me_images import Image, encrypted_json, pool_snapshot
from resolvers.portability import archive_format as fmt
from resolvers.stores import Caller, Stores
from storage.crypto import DecryptionError
from storage.repositories import UnitOfWork
from storage.repositories.media import APP_PICTURE
from storage.sealed_files import SealedFileWriter, plaintext_size
from storage.tables import CreditEntry, GenerationRecord, aware, utcnow

# Called with (images written, images in all) as the archive grows.
Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class ArchiveSummary:
    images: int
    generations: int
    credit_entries: int
    byte_size: int


def _iso(ts: datetime | None) -> str | None:
    return aware(ts).isoformat() if ts is not None else None


def _image_json(image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "kind": image.kind.value,
        **encrypted_json(image.encrypted),
        "usage": {"aiReference": image.ai_reference, "showInProfile": image.show_in_profile},
        "primaryFor": image.primary_for.value if image.primary_for else None,
        "createdAt": _iso(image.created_at),
        "updatedAt": _iso(image.updated_at),
        "file": fmt.image_entry(image.id, image.media.content_type),
        "contentType": image.media.content_type,
        "width": image.media.width,
        "height": image.media.height,
        "sha256": image.media.sha256,
    }


def _entry(name: str, *, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=utcnow().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    # A plain file, readable by its owner: never a link or anything executable.
    info.external_attr = 0o100600 << 16
    return info


def _write_json(archive: zipfile.ZipFile, name: str, value: object) -> None:
    archive.writestr(_entry(name, compress=True), json.dumps(value, ensure_ascii=False, indent=1))


async def _write_bytes(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    # Images are compressed already; storing them keeps the zip fast to write and read.
    await asyncio.to_thread(archive.writestr, _entry(name, compress=False), data)


async def write_archive(
    stores: Stores,
    caller: Caller,
    path: Path,
    progress: Progress | None = None,
    *,
    sealed: bool = False,
) -> ArchiveSummary:
    """Write the caller's export to `path` (replacing it when complete). `sealed` writes
    it encrypted for the caller (an archive the server keeps until it is downloaded; see
    `open_sealed_archive`); the summary gives the size of the archive itself."""
    snapshot = await pool_snapshot(stores, caller)
    # Oldest first, as the format says, whatever order the pool lists by default.
    images = sorted(snapshot.images, key=lambda image: (image.created_at, image.id))
    partial = path.with_name(f".{path.name}.partial")
    sink: SealedFileWriter | Path = partial
    if sealed:
        sink = await stores.sealed.file_writer(caller.owner_id, partial, path.name)
    try:
        with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
            archive.writestr(_entry(fmt.README, compress=True), fmt.README_TEXT)
            _write_json(
                archive,
                fmt.POOL,
                {
                    "aiUsesReferenceImages": snapshot.ai_enabled,
                    "images": [_image_json(image) for image in images],
                },
            )
            await _write_images(stores, caller, archive, images, progress)
            generations = await _write_generations(stores, caller, archive)
            credit_entries = await _write_credits(stores, caller, archive)
            uses = await _write_usage(stores, caller, archive)
            counts = {
                "images": len(images),
                "generations": generations,
                "creditEntries": credit_entries,
                "uses": uses,
            }
            _write_manifest(archive, caller, counts)
        if isinstance(sink, SealedFileWriter):
            await asyncio.to_thread(sink.close)
        os.replace(partial, path)
    finally:
        if isinstance(sink, SealedFileWriter) and not sink.closed:
            sink.abandon()
        partial.unlink(missing_ok=True)
    size = await asyncio.to_thread(plaintext_size if sealed else _file_size, path)
    return ArchiveSummary(len(images), generations, credit_entries, size)


async def _write_images(
    stores: Stores,
    caller: Caller,
    archive: zipfile.ZipFile,
    images: list[Image],
    progress: Progress | None,
) -> None:
    """Each image's stored original, one at a time (a photo is held in memory alone)."""
    for done, image in enumerate(images, start=1):
        data = await stores.sealed.get(caller.owner_id, image.media.storage_path)
        if data is None:
            raise RuntimeError(f"the stored original of image {image.id} is missing")
        await _write_bytes(archive, fmt.image_entry(image.id, image.media.content_type), data)
        del data
        if progress is not None:
            await progress(done, len(images))


def _write_manifest(archive: zipfile.ZipFile, caller: Caller, counts: dict[str, int]) -> None:
    """manifest.json, written last: what the archive holds, in which format version."""
    _write_json(
        archive,
        fmt.MANIFEST,
        {
            "format": fmt.FORMAT,
            "version": fmt.VERSION,
            "exportedAt": _iso(utcnow()),
            "space": caller.space_id,
            "counts": counts,
        },
    )


async def _write_generations(stores: Stores, caller: Caller, archive: zipfile.ZipFile) -> int:
    """generations.json, written while the history is read in batches, then the outputs."""
    count = 0
    outputs: list[tuple[str, str]] = []  # (entry name, blob key)
    async with stores.reading() as read:
        with archive.open(_entry(fmt.GENERATIONS, compress=True), "w") as out:
            out.write(b'{"generations": [')
            async for batch in read.portability.generations(caller.owner_id, caller.space_id):
                for row in batch:
                    record, files = await _generation_json(read, caller, row)
                    out.write((b",\n" if count else b"\n") + _dumps(record))
                    outputs += files
                    count += 1
            out.write(b"\n]}\n")
    for name, key in outputs:
        data = await stores.sealed.get(caller.owner_id, key)
        if data is not None:
            await _write_bytes(archive, name, data)
    return count


def _file_size(path: Path) -> int:
    return path.stat().st_size


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


async def _generation_json(
    read: UnitOfWork, caller: Caller, row: GenerationRecord
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    try:
        secrets = await read.generations.open(row)
        prompt, mask = secrets.prompt, secrets.mask
    except DecryptionError:
        prompt = mask = None  # its key was destroyed or the row damaged: export the rest
    files: list[tuple[str, str]] = []
    outputs = []
    for output in row.outputs:
        media_id, content_type = output.get("mediaId"), str(output.get("contentType"))
        stored = None
        if media_id:
            stored = await read.media.of_app(
                caller.owner_id, caller.space_id, str(media_id), APP_PICTURE
            )
        name = None
        if stored is not None:
            name = fmt.output_entry(row.id, int(output["index"]), content_type)
            files.append((name, stored.media.storage_path))
        outputs.append({**output, "file": name})
    record = {
        "id": row.id,
        "status": row.status,
        "prompt": prompt,
        # The inpainting mask as sent: base64 of an RGBA PNG; null without one.
        "mask": mask,
        "modelRequested": row.model_requested,
        "modelUsed": row.model_used,
        "quality": row.quality,
        "size": row.size,
        "n": row.n,
        "referenceIds": list(row.reference_ids),
        "outputs": outputs,
        "creditsCharged": row.credits_charged,
        "failure": row.failure,
        "warning": row.warning,
        "createdAt": _iso(row.created_at),
        "completedAt": _iso(row.completed_at),
    }
    return record, files


def _credit_json(entries: list[CreditEntry]) -> Iterator[dict[str, Any]]:
    for entry in entries:
        yield {
            "id": entry.id,
            "delta": entry.delta,
            "reason": entry.reason,
            "generationId": entry.generation_id,
            "note": entry.note,
            "createdAt": _iso(entry.created_at),
        }


async def _write_usage(stores: Stores, caller: Caller, archive: zipfile.ZipFile) -> int:
    """The usage ledger of this space: each send of one of the images to a provider."""
    uses = [
        u for u in await ledger.all_uses(stores, caller.owner_id) if u.space_id == caller.space_id
    ]
    _write_json(
        archive,
        fmt.USAGE,
        {
            "uses": [
                {
                    "imageId": u.image_id,
                    "generationId": u.generation_id,
                    "provider": u.provider.value,
                    "host": u.host,
                    "model": u.model,
                    "outcome": u.outcome.value,
                    "usedAt": _iso(u.used_at),
                }
                for u in uses
            ]
        },
    )
    return len(uses)


async def _write_credits(stores: Stores, caller: Caller, archive: zipfile.ZipFile) -> int:
    async with stores.reading() as read:
        entries = await read.portability.credit_entries(caller.owner_id)
    _write_json(
        archive,
        fmt.CREDITS,
        {"balance": sum(e.delta for e in entries), "entries": list(_credit_json(entries))},
    )
    return len(entries)
