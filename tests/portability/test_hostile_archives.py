"""Bad and hostile archives get a typed error and change nothing, on SQLite and PostgreSQL:
no image, no event, no media row, no blob (blobs of images validated before the failure
are removed again)."""

from __future__ import annotations

import io
import json
import stat
import struct
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from resolvers.portability.export import write_archive
from resolvers.stores import Caller
from storage.tables import MediaBlob, MediaRef, MeImage, MeImageEvent
from testbed import media_samples as samples
from testbed.images import decode, jpeg, png
from testbed.phone_photos import heic_with_metadata
from tests.portability.archives import document, entries, import_via_graphql, pool_of, rebuild
from tests.support.app import Api

Change = Callable[[bytes], bytes]


async def base_archive(api: Api, tmp_path: Path) -> bytes:
    """A valid export of two images (the first a face reference, opted in)."""
    owner = f"exporter-{uuid.uuid4().hex[:8]}"
    face = await api.upload_image(jpeg(11), user=owner, input={"kind": "FACE", "label": "a"})
    await api.upload_image(png(12), user=owner, input={"kind": "HANDS", "tags": ["t"]})
    await api.gql(
        "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename } }",
        {"id": face["id"]},
        user=owner,
    )
    path = tmp_path / "base.zip"
    await write_archive(api.stores, Caller(owner), path)
    return path.read_bytes()


async def footprint(api: Api, owner: str) -> dict[str, Any]:
    """Everything an import could leave behind for `owner`."""
    async with api.stores.db.session() as session:

        async def count(table: Any) -> int:
            query = select(func.count()).select_from(table).where(table.owner_id == owner)
            return int((await session.execute(query)).scalar_one())

        counts = {
            "images": await count(MeImage),
            "events": await count(MeImageEvent),
            "media": await count(MediaRef),
            "blobs": await count(MediaBlob),
        }
    return {**counts, "keys": await api.blob_keys()}


def first_image(archive: bytes) -> str:
    return str(document(archive, "pool.json")["images"][0]["file"])


def with_pool(change: Callable[[dict[str, Any]], None]) -> Change:
    def apply(archive: bytes) -> bytes:
        pool = document(archive, "pool.json")
        change(pool)
        return rebuild(archive, replace={"pool.json": json.dumps(pool).encode()})

    return apply


def with_manifest(**fields: Any) -> Change:
    def apply(archive: bytes) -> bytes:
        manifest = {**document(archive, "manifest.json"), **fields}
        return rebuild(archive, replace={"manifest.json": json.dumps(manifest).encode()})

    return apply


def adding(info: zipfile.ZipInfo | str, data: bytes) -> Change:
    return lambda archive: rebuild(archive, add=[(info, data)])


def symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("images/link.jpg")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def bomb_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("images/bomb.png")
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def lying_sizes(archive: bytes) -> bytes:
    """pool.json declares (in the central directory) 10 bytes while it holds far more."""
    data = bytearray(archive)
    name = b"pool.json"
    at = data.find(b"PK\x01\x02")
    while at >= 0:  # bounded: find moves forward
        length = struct.unpack("<H", data[at + 28 : at + 30])[0]
        if data[at + 46 : at + 46 + length] == name:
            data[at + 24 : at + 28] = struct.pack("<I", 10)
            return bytes(data)
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError("no central directory entry for pool.json")


def replaced_image(data: bytes) -> Change:
    return lambda archive: rebuild(archive, replace={first_image(archive): data})


def duplicate_names(archive: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        with pytest.warns(UserWarning, match="Duplicate name"):
            dst.writestr("pool.json", src.read("pool.json"))
    return out.getvalue()


def duplicate_ids(pool: dict[str, Any]) -> None:
    pool["images"][1]["id"] = pool["images"][0]["id"]


def two_face_refs(pool: dict[str, Any]) -> None:
    for image in pool["images"]:
        image["primaryFor"] = "face-ref"


# (what is wrong, how to make it from a valid archive, expected problem, entry at fault)
HOSTILE: list[tuple[str, Change, str, str | None]] = [
    ("not a zip", lambda _a: b"PK\x03\x04 this is no zip at all", "NOT_A_ZIP", None),
    (
        "path traversal",
        adding("../../etc/cron.d/evil", b"x"),
        "UNSAFE_PATH",
        "../../etc/cron.d/evil",
    ),
    ("absolute path", adding("/etc/passwd", b"x"), "UNSAFE_PATH", "/etc/passwd"),
    ("backslash path", adding("images\\..\\x.jpg", b"x"), "UNSAFE_PATH", "images\\..\\x.jpg"),
    ("symlink", adding(symlink_entry(), b"/etc/passwd"), "SYMLINK", "images/link.jpg"),
    ("unknown file", adding("run.sh", b"#!/bin/sh"), "UNEXPECTED_ENTRY", "run.sh"),
    (
        "zip bomb by ratio",
        adding(bomb_entry(), bytes(9 * 1024 * 1024)),
        "COMPRESSION_BOMB",
        "images/bomb.png",
    ),
    ("sizes that lie", lying_sizes, "CORRUPT", "pool.json"),
    ("duplicate entry", duplicate_names, "DUPLICATE_ENTRY", "pool.json"),
    (
        "no manifest",
        lambda a: rebuild(a, replace={"manifest.json": None}),
        "MISSING_FILE",
        "manifest.json",
    ),
    (
        "another format",
        with_manifest(format="someone-elses-backup"),
        "WRONG_FORMAT",
        "manifest.json",
    ),
    ("a future version", with_manifest(version=2), "UNSUPPORTED_VERSION", "manifest.json"),
    (
        "pool.json not JSON",
        lambda a: rebuild(a, replace={"pool.json": b"{nope"}),
        "CORRUPT",
        "pool.json",
    ),
    ("images not a list", with_pool(lambda p: p.update(images={})), "BAD_FIELD", "pool.json"),
    (
        "unknown kind",
        with_pool(lambda p: p["images"][0].update(kind="selfie")),
        "BAD_FIELD",
        "pool.json",
    ),
    (
        "label too long",
        with_pool(lambda p: p["images"][0].update(label="x" * 201)),
        "BAD_FIELD",
        "pool.json",
    ),
    (
        "naive time",
        with_pool(lambda p: p["images"][0].update(createdAt="2020-01-01T00:00:00")),
        "BAD_FIELD",
        "pool.json",
    ),
    ("two holders of a slot", with_pool(two_face_refs), "BAD_FIELD", "pool.json"),
    ("duplicate ids", with_pool(duplicate_ids), "DUPLICATE_ID", "pool.json"),
    (
        "missing image file",
        with_pool(lambda p: p["images"][1].update(file="images/gone.png")),
        "MISSING_FILE",
        "images/gone.png",
    ),
    ("stray image", adding("images/stray.png", png(13)), "UNEXPECTED_ENTRY", "images/stray.png"),
    (
        "non-image bytes",
        replaced_image(b"<html><script>alert(1)</script></html>"),
        "IMAGE_REJECTED",
        None,
    ),
    (
        "an SVG",
        replaced_image(b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        "IMAGE_REJECTED",
        None,
    ),
    ("a pixel bomb", replaced_image(samples.pixel_bomb_png()), "IMAGE_REJECTED", None),
]


@pytest.mark.parametrize(
    ("change", "problem", "entry"),
    [pytest.param(c, p, e, id=what) for what, c, p, e in HOSTILE],
)
async def test_a_hostile_archive_is_refused_and_changes_nothing(
    api: Api, tmp_path: Path, change: Change, problem: str, entry: str | None
) -> None:
    archive = change(await base_archive(api, tmp_path))
    owner = f"importer-{uuid.uuid4().hex[:8]}"
    before = await footprint(api, owner)
    result = await import_via_graphql(api, owner, archive, keep_consent=True)
    assert result["__typename"] == "InvalidArchiveError", result
    assert (result["code"], result["problem"]) == ("INVALID_ARCHIVE", problem), result
    if entry is not None:
        assert result["entry"] == entry
    assert await footprint(api, owner) == before
    assert (await pool_of(api, owner))["meImages"] == []


async def test_blobs_of_images_validated_before_a_failure_are_removed(
    api: Api, tmp_path: Path
) -> None:
    """The first image is valid and its blobs written; the second is not: both go."""
    archive = await base_archive(api, tmp_path)
    second = document(archive, "pool.json")["images"][1]["file"]
    hostile = rebuild(archive, replace={second: b"GIF89a not really"})
    owner = f"importer-{uuid.uuid4().hex[:8]}"
    keys_before = await api.blob_keys()
    result = await import_via_graphql(api, owner, hostile)
    assert (result["problem"], result["entry"]) == ("IMAGE_REJECTED", second)
    assert await api.blob_keys() == keys_before
    assert (await footprint(api, owner))["blobs"] == 0


async def test_an_import_that_would_overfill_the_pool_is_refused_whole(
    api: Api, tmp_path: Path
) -> None:
    archive = await base_archive(api, tmp_path)
    count = len(document(archive, "pool.json")["images"])
    owner = f"importer-{uuid.uuid4().hex[:8]}"
    before = await footprint(api, owner)
    stores = api.stores
    limits = stores.config.limits
    stores.config.limits = replace(limits, pool_cap=count - 1)
    try:
        result = await import_via_graphql(api, owner, archive)
    finally:
        stores.config.limits = limits
    assert (result["__typename"], result["code"]) == ("PoolFullError", "POOL_FULL"), result
    assert await footprint(api, owner) == before
    assert (await pool_of(api, owner))["meImages"] == []


async def test_too_many_entries_is_refused(api: Api, tmp_path: Path) -> None:
    archive = await base_archive(api, tmp_path)
    stores = api.stores
    before = stores.config.portability
    stores.config.portability = replace(before, max_entries=len(entries(archive)) - 1)
    try:
        result = await import_via_graphql(api, f"importer-{uuid.uuid4().hex[:8]}", archive)
    finally:
        stores.config.portability = before
    assert result["problem"] == "TOO_MANY_ENTRIES", result


async def test_a_photo_with_metadata_is_cleaned_like_an_upload(api: Api, tmp_path: Path) -> None:
    """A file that is not what meimages stores (EXIF, XMP, GPS, rotation) is re-encoded."""
    archive = await base_archive(api, tmp_path)
    canary = f"canary-{uuid.uuid4().hex}"
    dirty = samples.jpeg_with_metadata(canary, orientation=6)
    owner = f"importer-{uuid.uuid4().hex[:8]}"
    result = await import_via_graphql(
        api, owner, rebuild(archive, replace={first_image(archive): dirty})
    )
    assert result["__typename"] == "DataImport", result
    face = next(i for i in (await pool_of(api, owner))["meImages"] if i["label"] == "a")
    stored = (await api.client.get(face["publicUrl"])).content
    assert canary.encode() not in stored and b"Exif" not in stored
    upright = decode(dirty)
    assert (face["width"], face["height"]) == (upright.height, upright.width)


async def test_a_phone_photo_under_a_jpg_name_is_kept_as_an_upload_would_be(
    api: Api, tmp_path: Path
) -> None:
    """HEIC bytes named .jpg: decoded from the bytes, stored in a format every browser
    shows (as an upload of the same file), with every metadata block gone."""
    archive = await base_archive(api, tmp_path)
    canary = f"canary-{uuid.uuid4().hex}"
    owner = f"importer-{uuid.uuid4().hex[:8]}"
    result = await import_via_graphql(
        api, owner, rebuild(archive, replace={first_image(archive): heic_with_metadata(canary)})
    )
    assert result["__typename"] == "DataImport", result
    face = next(i for i in (await pool_of(api, owner))["meImages"] if i["label"] == "a")
    assert face["contentType"] == "image/jpeg"
    stored = (await api.client.get(face["publicUrl"])).content
    assert decode(stored).format == "JPEG" and canary.encode() not in stored


async def test_the_same_archive_imported_twice_is_refused_the_second_time(
    api: Api, tmp_path: Path
) -> None:
    """A second import of an archive whose every image is already in the pool would only
    duplicate it: refused by name (ALREADY_IMPORTED), the pool as the first import left it."""
    archive = await base_archive(api, tmp_path)
    owner = f"importer-{uuid.uuid4().hex[:8]}"
    first = await import_via_graphql(api, owner, archive)
    assert first["__typename"] == "DataImport"
    before = await pool_of(api, owner)
    second = await import_via_graphql(api, owner, archive)
    assert second["__typename"] == "InvalidArchiveError", second
    assert (second["problem"], second["entry"]) == ("ALREADY_IMPORTED", "manifest.json")
    assert "'personal'" in second["message"]
    assert await pool_of(api, owner) == before
    assert len(before["meImages"]) == 2
