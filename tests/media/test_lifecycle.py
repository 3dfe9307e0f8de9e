"""No orphans, nothing lost: purge removes references, the collector removes bytes."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from resolvers.lifecycle.garbage import collect_garbage
from resolvers.lifecycle.purge import purge_deleted_images, purge_owner
from resolvers.media import uploads
from resolvers.stores import Caller, Stores
from storage.blobs import BlobInfo, BlobStore
from storage.crypto import DecryptionError
from storage.tables import DataKey, MediaBlob, MediaObject, MediaRef, MeImage, MeImageEvent
from testbed import media_samples as samples
from tests.support.app import Api

HOUR = timedelta(hours=1)


async def add_image(mapi: Api, owner: str, data: bytes, **input: Any) -> dict[str, Any]:
    image = await mapi.upload(
        data,
        user=owner,
        input=input or None,
        fields="__typename ... on MeImage { id mediaId storagePath publicUrl thumbnailUrl }",
    )
    assert image["__typename"] == "MeImage", image
    return image


async def delete_image(mapi: Api, owner: str, image_id: str) -> None:
    await mapi.gql(
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }", {"id": image_id}, user=owner
    )


async def orphaned(mapi: Api, keys: list[str]) -> dict[str, bool]:
    async with mapi.stores.db.session() as session:
        rows = (
            await session.execute(select(MediaBlob).where(col(MediaBlob.key).in_(keys)))
        ).scalars()
        return {row.key: row.orphaned_at is not None for row in rows}


async def count(mapi: Api, table: Any, owner: str) -> int:
    async with mapi.stores.db.session() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(table).where(table.owner_id == owner)
                )
            ).scalar_one()
        )


async def label_ciphertext(mapi: Api, image: dict[str, Any]) -> tuple[bytes, str]:
    """A copy of the image's encrypted label, as a backup or a leaked dump would keep it."""
    async with mapi.stores.db.session() as session:
        row = await session.get(MeImage, image["id"])
        assert row is not None and row.label_ct is not None
        return row.label_ct, row.id


async def assert_erased(
    mapi: Api, owner: str, image: dict[str, Any], stolen_copy: tuple[bytes, str]
) -> None:
    """The image's URL answers 404 and its bytes are gone; its owner's key is destroyed, so
    an old copy of its ciphertext (`label_ciphertext`) is noise now."""
    assert (await mapi.client.get(image["publicUrl"])).status_code == 404
    assert not any(key.startswith(image["storagePath"]) for key in await mapi.blob_keys())
    blob, row_id = stolen_copy
    async with mapi.stores.db.session() as session:
        with pytest.raises(DecryptionError):
            await mapi.stores.vault.decrypt(
                session, owner_id=owner, table="me_image", field="label", row_id=row_id, blob=blob
            )


async def test_purging_a_deleted_image_orphans_its_blobs_and_gc_respects_the_grace(
    mapi: Api, owner: str
) -> None:
    image = await add_image(mapi, owner, samples.noisy_jpeg((160, 120), seed=21))
    base = image["storagePath"]
    renditions = await mapi.rendition_keys(base)
    kept = await add_image(mapi, owner, samples.noisy_jpeg((160, 120), seed=22))
    await delete_image(mapi, owner, image["id"])
    # Soft-deleted: rows and bytes stay until the purge, but the URLs are revoked at once.
    assert (await mapi.client.get(image["publicUrl"])).status_code == 404
    report = await purge_deleted_images(mapi.stores, older_than=HOUR)
    assert await count(mapi, MeImage, owner) == 2  # not old enough yet
    report = await purge_deleted_images(mapi.stores, older_than=timedelta(0))
    assert report.images >= 1 and report.media_objects >= 1
    assert await count(mapi, MeImage, owner) == 1
    assert await orphaned(mapi, renditions) == dict.fromkeys(renditions, True)
    # The row is gone, so the URL is dead; the bytes wait for the collector's grace.
    assert (await mapi.client.get(image["publicUrl"])).status_code == 404
    assert base in await mapi.blob_keys()
    await collect_garbage(mapi.stores, grace=HOUR)
    assert base in await mapi.blob_keys()
    report_gc = await collect_garbage(mapi.stores, grace=timedelta(0))
    assert set(renditions) <= set(report_gc.deleted_keys)
    assert not set(renditions) & await mapi.blob_keys()
    assert await orphaned(mapi, renditions) == {}
    # The other image is untouched.
    assert kept["storagePath"] in await mapi.blob_keys()
    assert (await mapi.client.get(kept["publicUrl"])).status_code == 200


async def test_media_shared_by_two_images_survives_purging_one(mapi: Api, owner: str) -> None:
    data = samples.noisy_jpeg((100, 80), seed=23)
    first = await add_image(mapi, owner, data)
    second = await add_image(mapi, owner, data)
    # Two uploads, two media ids, one stored object.
    assert first["mediaId"] != second["mediaId"]
    assert first["storagePath"] == second["storagePath"]
    await delete_image(mapi, owner, first["id"])
    await purge_deleted_images(mapi.stores, older_than=timedelta(0))
    await collect_garbage(mapi.stores, grace=timedelta(0))
    assert await count(mapi, MediaObject, owner) == 1
    renditions = await mapi.rendition_keys(second["storagePath"])
    assert (await orphaned(mapi, renditions)) == dict.fromkeys(renditions, False)
    assert (await mapi.client.get(second["publicUrl"])).status_code == 200


async def test_uploads_never_attached_to_an_image_are_purged_too(mapi: Api, owner: str) -> None:
    response = await mapi.rest_upload(samples.noisy_jpeg((90, 60), seed=24), user=owner)
    renditions = await mapi.rendition_keys(response.json()["storagePath"])
    await purge_deleted_images(mapi.stores, older_than=HOUR)
    assert await count(mapi, MediaRef, owner) == 1  # recent: maybe still being attached
    await purge_deleted_images(mapi.stores, older_than=timedelta(0))
    assert await count(mapi, MediaRef, owner) == 0
    await collect_garbage(mapi.stores, grace=timedelta(0))
    assert not set(renditions) & await mapi.blob_keys()


async def test_purging_an_owner_removes_images_media_and_data_key(
    mapi: Api, owner: str, other_owner: str
) -> None:
    image = await add_image(mapi, owner, samples.noisy_jpeg((120, 90), seed=25), label="secret")
    await add_image(mapi, owner, samples.noisy_jpeg((120, 90), seed=26), tags=["a", "b"])
    theirs = await add_image(mapi, other_owner, samples.noisy_jpeg((120, 90), seed=25))
    stolen_copy = await label_ciphertext(mapi, image)
    assert await count(mapi, MeImageEvent, owner) > 0  # the history exists before
    report = await purge_owner(mapi.stores, owner)
    assert report.images == 2 and report.media_objects == 2 and report.data_keys_destroyed
    assert report.blobs_deleted == 6
    for table in (MeImage, MediaRef, MediaObject, DataKey, MediaBlob, MeImageEvent):
        assert await count(mapi, table, owner) == 0, table
    await assert_erased(mapi, owner, image, stolen_copy)
    # The other owner, with the very same picture, keeps everything.
    assert (await mapi.client.get(theirs["publicUrl"])).status_code == 200
    listed = await mapi.gql("{ meImages { id } }", user=other_owner)
    assert [i["id"] for i in listed["meImages"]] == [theirs["id"]]
    # The purged owner can start again with a fresh key.
    again = await add_image(mapi, owner, samples.noisy_jpeg((120, 90), seed=25), label="new")
    assert (await mapi.client.get(again["publicUrl"])).status_code == 200


class CollectorInTheGap:
    """A real store, with the collector run right after the first put of a key: the
    worst moment, between writing the bytes and linking the row."""

    def __init__(self, inner: BlobStore, stores: Stores) -> None:
        self.inner = inner
        self.stores = stores
        self.struck: list[str] = []

    async def put(self, key: str, data: bytes) -> None:
        await self.inner.put(key, data)
        if not self.struck:
            self.struck.append(key)
            await collect_garbage(self.stores, grace=timedelta(0))

    async def get(self, key: str) -> bytes | None:
        return await self.inner.get(key)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    def list_blobs(self, prefix: str = "") -> Any:
        return self.inner.list_blobs(prefix)

    async def discard_incomplete(self, older_than: Any) -> int:
        return await self.inner.discard_incomplete(older_than)

    async def close(self) -> None:
        return None


async def test_collector_between_write_and_link_never_leaves_a_dangling_row(
    mapi: Api, owner: str
) -> None:
    real = mapi.stores
    racing = Stores(db=real.db, vault=real.vault, blobs=real.blobs, config=real.config)
    gap = CollectorInTheGap(real.blobs, racing)
    racing.blobs = gap
    stored = await uploads.store_image(racing, Caller(owner), samples.noisy_jpeg((80, 60), seed=27))
    assert gap.struck  # the collector did run in the gap and deleted what it could
    for key in (stored.storage_path, stored.thumbnail_path, stored.medium_path):
        assert key is not None and await real.blobs.exists(key), key
    renditions = [stored.storage_path, stored.thumbnail_path, stored.medium_path or ""]
    assert (await orphaned(mapi, renditions)) == dict.fromkeys(renditions, False)


async def test_sweep_registers_unknown_blobs_and_the_collector_removes_them(
    mapi: Api,
) -> None:
    stray = f"o/{'f' * 24}/ab/stray-{time.time_ns()}"
    await mapi.blob_store.put(stray, b"left behind by an old version")
    report = await collect_garbage(mapi.stores, grace=HOUR, sweep=True)
    assert report.untracked_registered >= 1
    assert stray in await mapi.blob_keys()  # still inside the grace period
    await collect_garbage(mapi.stores, grace=timedelta(0))
    assert stray not in await mapi.blob_keys()


async def test_collector_removes_half_written_files_of_the_local_store(mapi: Api) -> None:
    if mapi.blobs_kind != "local":
        pytest.skip("S3 PUTs are atomic: an interrupted upload leaves nothing")
    root = mapi.settings.resolved_blob_dir / "o" / "crashed"
    root.mkdir(parents=True, exist_ok=True)
    old, fresh = root / ".tmp-old", root / ".tmp-fresh"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    long_ago = time.time() - 7200
    os.utime(old, (long_ago, long_ago))
    report = await collect_garbage(mapi.stores, grace=HOUR)
    assert report.incomplete_removed >= 1
    assert not old.exists() and fresh.exists()
    # Half-written files are never listed as blobs.
    assert not any(".tmp-" in key for key in await mapi.blob_keys())
    fresh.unlink()


async def test_both_stores_list_what_they_hold(mapi: Api) -> None:
    key = f"o/{'e' * 24}/cd/listed-{time.time_ns()}"
    await mapi.blob_store.put(key, b"12345")
    found = [info async for info in mapi.blob_store.list_blobs(f"o/{'e' * 24}")]
    match = [info for info in found if info.key == key]
    assert len(match) == 1 and isinstance(match[0], BlobInfo) and match[0].size == 5
    assert await mapi.blob_store.get(key) == b"12345"
    await mapi.blob_store.delete(key)
    await mapi.blob_store.delete(key)  # deleting twice is fine
    assert await mapi.blob_store.get(key) is None and not await mapi.blob_store.exists(key)
    for unsafe in ("../x", "/etc/passwd", "o//x", "O/UPPER"):
        with pytest.raises(ValueError):
            await mapi.blob_store.put(unsafe, b"")
