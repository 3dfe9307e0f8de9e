"""Sealed media on both stores and databases: what a copy of the folder or bucket shows
(nothing of the pictures), what opens where, and the conversion of plaintext-era media."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from urllib.parse import urlsplit

from resolvers.lifecycle.sealing import count_unsealed, seal_stored_media
from resolvers.media import uploads
from resolvers.stores import Caller
from storage.crypto import BLOB_MAGIC, DecryptionError
from storage.repositories.media import APP_PICTURE
from testbed import media_samples as samples
from testbed.plaintext_era import regress_to_plaintext
from tests.media.test_delivery import add_image, transform_url
from tests.support.app import Api
from tests.support.s3 import S3_PREFIX, S3Server

# What `file` and image viewers recognise a picture by, at the start of the bytes.
IMAGE_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"RIFF",  # WebP (RIFF....WEBP)
    b"BM",
    b"II*\x00",  # TIFF
    b"MM\x00*",
)


# The URLs `served_images` fetched, in the order of `Api.rendition_keys(variants=True)`.
SERVED = ("publicUrl", "thumbnailUrl", "mediumUrl", "transformUrl")


def looks_like_an_image(data: bytes) -> bool:
    return data.startswith(IMAGE_SIGNATURES) or data[4:8] == b"ftyp"  # HEIC, AVIF


def shares_a_run(stored: bytes, plaintext: bytes, run: int = 24) -> bool:
    """Whether any `run`-byte piece of the plaintext (sampled every 997 bytes) is in the
    stored bytes: a marker or any other content of the picture would be."""
    return any(
        plaintext[at : at + run] in stored for at in range(0, max(1, len(plaintext) - run), 997)
    )


async def served_images(mapi: Api, owner: str, count: int, seed: int) -> list[dict[str, Any]]:
    images = []
    for index in range(count):
        image = await add_image(mapi, owner, samples.noisy_jpeg((320, 240), seed=seed + index))
        # A cached transform too: every stored variant is sealed, not only the upload's.
        image["transformUrl"] = await transform_url(mapi, owner, image["id"], w=120)
        for name in SERVED:
            response = await mapi.client.get(image[name])
            assert response.status_code == 200, (name, response.status_code)
            image[f"{name}:bytes"] = response.content
        images.append(image)
    return images


async def test_no_stored_object_shows_an_image_its_content_or_its_hash(
    mapi: Api, owner: str, other_owner: str, s3: S3Server
) -> None:
    images = await served_images(mapi, owner, 2, seed=300)
    images += await served_images(mapi, other_owner, 1, seed=310)
    # A generation's output is stored by the same path, as media of app `picture`.
    output = await uploads.store_image(
        mapi.stores, Caller(owner), samples.noisy_jpeg((200, 200), seed=320), app=APP_PICTURE
    )
    keys: list[str] = [output.storage_path, output.thumbnail_path, output.medium_path or ""]
    plaintexts: list[bytes] = []
    for image in images:
        keys += await mapi.rendition_keys(image["storagePath"], variants=True)
        plaintexts += [image[f"{name}:bytes"] for name in SERVED]
    assert len(keys) == 3 + 3 * 4
    digests = {hashlib.sha256(data).hexdigest() for data in plaintexts}
    listed = await mapi.blob_keys()
    assert set(keys) <= listed
    for key in keys:
        stored = await mapi.blob_store.get(key)
        assert stored is not None
        assert stored.startswith(BLOB_MAGIC) and not looks_like_an_image(stored), key
        assert not any(shares_a_run(stored, plaintext) for plaintext in plaintexts), key
    # No name in the whole store carries the hash of anything served, nor a file type.
    for name in listed:
        assert not any(digest[:16] in name for digest in digests), name
        assert not name.endswith((".webp", ".jpg", ".jpeg", ".png")) or name.startswith("o/")
    if mapi.blobs_kind == "s3":
        # The object's own metadata says nothing about its content either.
        bucket = urlsplit(mapi.settings.blob_url).netloc
        for key in keys:
            head = s3.client().head_object(Bucket=bucket, Key=f"{S3_PREFIX}/{key}")
            assert head["ContentType"] == "application/octet-stream", key


async def test_a_sealed_object_opens_only_as_its_owners_under_its_own_name(
    mapi: Api, owner: str, other_owner: str
) -> None:
    mine = (await served_images(mapi, owner, 1, seed=330))[0]
    theirs = (await served_images(mapi, other_owner, 1, seed=331))[0]
    original, thumbnail, _medium = await mapi.rendition_keys(mine["storagePath"])
    sealed = await mapi.blob_store.get(original)
    assert sealed is not None
    assert await mapi.stores.sealed.open(owner, original, sealed) == mine["publicUrl:bytes"]
    for wrong_owner, wrong_name in ((other_owner, original), (owner, thumbnail)):
        try:
            await mapi.stores.sealed.open(wrong_owner, wrong_name, sealed)
        except DecryptionError:
            continue
        raise AssertionError(f"opened as {wrong_owner} under {wrong_name}")
    # Copied over another object of the same owner, or over another owner's object:
    # the server reads it as missing (404), never as the wrong picture.
    their_original = (await mapi.rendition_keys(theirs["storagePath"]))[0]
    await mapi.blob_store.put(thumbnail, sealed)
    await mapi.blob_store.put(their_original, sealed)
    assert (await mapi.client.get(mine["thumbnailUrl"])).status_code == 404
    assert (await mapi.client.get(theirs["publicUrl"])).status_code == 404
    # A tampered byte does not open either.
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    await mapi.blob_store.put(original, flipped)
    assert (await mapi.client.get(mine["publicUrl"])).status_code == 404


async def test_conversion_seals_plaintext_media_which_serves_the_same_meanwhile(
    mapi: Api,
) -> None:
    owner = f"legacy-{uuid.uuid4().hex[:10]}"
    images = await served_images(mapi, owner, 3, seed=340)
    planted = await regress_to_plaintext(mapi.stores, owner)
    assert len(planted) == 3 * 4
    for name, data in planted.items():
        stored = await mapi.blob_store.get(name)
        assert stored == data and looks_like_an_image(stored)
    before = await count_unsealed(mapi.stores)
    assert before >= 3
    # Both formats are served while the conversion has not run: same bytes, same ETag.
    etags = {}
    for image in images:
        for name in SERVED:
            response = await mapi.client.get(image[name])
            assert response.content == image[f"{name}:bytes"], name
            etags[image[name]] = response.headers["etag"]
    seen: list[tuple[int, int]] = []
    report = await seal_stored_media(mapi.stores, lambda done, total: seen.append((done, total)))
    assert report.objects_sealed >= 3 and report.blobs_sealed >= 12 and report.missing == 0
    assert seen and seen[-1][0] == seen[-1][1] == len(seen) >= 3
    assert report.plaintext_deleted >= 12
    listed = await mapi.blob_keys()
    assert not set(planted) & listed
    for image in images:
        keys = await mapi.rendition_keys(image["storagePath"], variants=True)
        assert len(keys) == 4 and all(key.startswith("s/") for key in keys)
        for key in keys:
            stored = await mapi.blob_store.get(key)
            assert stored is not None and stored.startswith(BLOB_MAGIC)
        for name in SERVED:
            response = await mapi.client.get(image[name])
            assert response.content == image[f"{name}:bytes"], name
            assert response.headers["etag"] == etags[image[name]]
    # Idempotent: a second run finds nothing of this owner to do.
    again = await seal_stored_media(mapi.stores)
    assert again.objects_sealed == 0 and await count_unsealed(mapi.stores) == 0


async def test_uploading_a_plaintext_era_photo_again_seals_it(mapi: Api) -> None:
    owner = f"legacy-{uuid.uuid4().hex[:10]}"
    data = samples.noisy_jpeg((200, 150), seed=350)
    first = await add_image(mapi, owner, data)
    planted = await regress_to_plaintext(mapi.stores, owner)
    served = (await mapi.client.get(first["publicUrl"])).content
    again = await add_image(mapi, owner, data)
    # The same object, now under sealed names; the first image serves the same bytes.
    assert again["storagePath"] == (await mapi.rendition_keys(again["storagePath"]))[0]
    assert again["storagePath"].startswith("s/")
    assert (await mapi.client.get(first["publicUrl"])).content == served
    assert (await mapi.client.get(again["publicUrl"])).content == served
    # The plaintext names are orphaned now; the conversion deletes their bytes.
    await seal_stored_media(mapi.stores)
    assert not set(planted) & await mapi.blob_keys()
