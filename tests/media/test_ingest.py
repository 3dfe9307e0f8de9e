"""Privacy and defences on ingest, through the HTTP door, on every database x blob store."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from storage.tables import MediaBlob, MediaObject, MediaRef
from testbed import media_samples as samples
from testbed import phone_photos as photos
from tests.support.app import Api

KEY = re.compile(r"^s/([0-9a-f]{2})/\1[0-9a-f]{62}$")
CANARY_PARTS = ("DESC-", "MAKE-", "MAKERNOTE-", "COMMENT-", "THUMB-", "XMP-", "IPTC-", "COM-")


async def media_rows(mapi: Api, owner: str) -> tuple[int, int]:
    async with mapi.stores.db.session() as session:
        objects = (
            await session.execute(
                select(func.count()).select_from(MediaObject).where(MediaObject.owner_id == owner)  # type: ignore[arg-type]
            )
        ).scalar_one()
        refs = (
            await session.execute(
                select(func.count()).select_from(MediaRef).where(MediaRef.owner_id == owner)  # type: ignore[arg-type]
            )
        ).scalar_one()
    return objects, refs


async def fetch(mapi: Api, url: str) -> bytes:
    response = await mapi.client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content


async def test_jpeg_with_gps_and_canaries_is_stored_clean_and_upright(
    mapi: Api, owner: str
) -> None:
    canary = f"CANARY{owner[-6:]}"
    upload = samples.jpeg_with_metadata(canary)
    for part in CANARY_PARTS:
        assert f"{part}{canary}".encode() in upload  # the test file really carries them
    image = await mapi.upload(upload, user=owner)
    assert image["__typename"] == "MeImage", image
    # Orientation 6: 200x100 pixels shown rotated a quarter turn clockwise.
    assert (image["width"], image["height"]) == (100, 200)
    for url in (image["publicUrl"], image["thumbnailUrl"]):
        stored = await fetch(mapi, url)
        assert canary.encode() not in stored
        for marker in (
            b"Exif",
            b"http://ns.adobe.com/xap",
            b"Photoshop 3.0",
            b"8BIM",
            b"ICC_PROFILE",
        ):
            assert marker not in stored, marker
    original = Image.open(io.BytesIO(await fetch(mapi, image["publicUrl"])))
    assert original.format == "JPEG" and original.size == (100, 200)
    assert not original.getexif() and "xmp" not in original.info and "exif" not in original.info
    assert "comment" not in original.info and "icc_profile" not in original.info
    # The left (red) half of the upload is now on top.
    red, blue = original.getpixel((50, 30)), original.getpixel((50, 170))
    assert red[0] > 180 and red[2] < 80, red
    assert blue[2] > 180 and blue[0] < 80, blue
    # Every blob the server stored for it, variants included, is clean.
    for key in await mapi.rendition_keys(image["storagePath"], variants=True):
        data = await mapi.opened(owner, key)
        assert data is not None and canary.encode() not in data, key


async def test_png_text_xmp_and_exif_chunks_are_dropped(mapi: Api, owner: str) -> None:
    canary = f"PNGCANARY{owner[-6:]}"
    upload = samples.png_with_metadata(canary)
    assert upload.count(canary.encode()) >= 4
    response = await mapi.rest_upload(
        upload, user=owner, filename="x.png", content_type="image/png"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    stored = await fetch(mapi, body["publicUrl"])
    assert canary.encode() not in stored
    assert not any(kind in stored for kind in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"))
    decoded = Image.open(io.BytesIO(stored))
    assert decoded.format == "PNG" and decoded.info == {}
    assert body["contentType"] == "image/png"


@pytest.mark.parametrize(
    ("make", "content_type", "stored_format"),
    [
        (samples.png_with_html_appended, "image/png", "PNG"),
        (samples.jpeg_zip_polyglot, "image/jpeg", "JPEG"),
    ],
)
async def test_polyglots_come_out_as_plain_images(
    mapi: Api, owner: str, make: object, content_type: str, stored_format: str
) -> None:
    upload = make()  # type: ignore[operator]
    response = await mapi.rest_upload(upload, user=owner, content_type=content_type)
    assert response.status_code == 201, response.text
    stored = await fetch(mapi, response.json()["publicUrl"])
    assert b"<script" not in stored and b"<html" not in stored and b"PK\x03\x04" not in stored
    assert Image.open(io.BytesIO(stored)).format == stored_format
    # The bytes end where the image ends.
    end = b"IEND\xaeB`\x82" if stored_format == "PNG" else b"\xff\xd9"
    assert stored.endswith(end)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (samples.SVG, "svg"),
        (samples.HTML, "html"),
        (samples.PDF, "pdf"),
        (samples.HEIC, "heif"),
        (b"just some text, not a picture", "not-an-image"),
    ],
    ids=["svg", "html", "pdf", "heic", "text"],
)
async def test_non_images_sent_as_jpeg_are_refused_with_a_reason(
    mapi: Api, owner: str, payload: bytes, reason: str
) -> None:
    before = await mapi.blob_keys()
    response = await mapi.rest_upload(payload, user=owner, content_type="image/jpeg")
    assert response.status_code == 415
    assert response.json()["error"] == {
        "code": "UNSUPPORTED_MEDIA_TYPE",
        "message": response.json()["error"]["message"],
        "reason": reason,
    }
    result = await mapi.upload(
        payload,
        user=owner,
        content_type="image/jpeg",
        fields="__typename ... on UnsupportedMediaTypeError { code reason }",
    )
    assert result == {
        "__typename": "UnsupportedMediaTypeError",
        "code": "UNSUPPORTED_MEDIA_TYPE",
        "reason": reason.upper().replace("-", "_"),
    }
    assert await mapi.blob_keys() == before
    assert await media_rows(mapi, owner) == (0, 0)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (samples.tiff, "tiff"),
        (photos.animated_gif, "animated"),
        (samples.apng, "animated"),
        (samples.animated_webp, "animated"),
        (samples.ztxt_bomb, "compressed-text-bomb"),
        (samples.iccp_bomb, "compressed-text-bomb"),
    ],
    ids=["tiff", "animated-gif", "apng", "animated-webp", "ztxt-bomb", "iccp-bomb"],
)
async def test_unsafe_image_files_are_refused(
    mapi: Api, owner: str, make: object, reason: str
) -> None:
    before = await mapi.blob_keys()
    response = await mapi.rest_upload(make(), user=owner)  # type: ignore[operator]
    assert response.status_code == 415, response.text
    assert response.json()["error"]["reason"] == reason
    assert await mapi.blob_keys() == before
    assert await media_rows(mapi, owner) == (0, 0)


async def test_pixel_bombs_are_refused_before_decoding(mapi: Api, owner: str) -> None:
    before = await mapi.blob_keys()
    # 49 MP claimed by a 600-byte JPEG: over our 40 MP cap, under Pillow's own limit.
    for bomb in (samples.jpeg_claiming(7000, 7000), samples.jpeg_claiming(60000, 60000)):
        assert len(bomb) < 2000
        response = await mapi.rest_upload(bomb, user=owner)
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "TOO_LARGE"
    result = await mapi.upload(samples.pixel_bomb_png(), user=owner, content_type="image/png")
    assert result["__typename"] == "TooLargeError"
    assert await mapi.blob_keys() == before


async def test_multi_picture_jpeg_keeps_only_the_primary_picture(mapi: Api, owner: str) -> None:
    canary = f"MPO{owner[-6:]}"
    upload = samples.mpo(canary)
    assert Image.open(io.BytesIO(upload)).n_frames == 2  # type: ignore[attr-defined]
    response = await mapi.rest_upload(upload, user=owner)
    assert response.status_code == 201, response.text
    stored = await fetch(mapi, response.json()["publicUrl"])
    img = Image.open(io.BytesIO(stored))
    assert img.format == "JPEG" and getattr(img, "n_frames", 1) == 1
    assert canary.encode() not in stored and b"MPF" not in stored


async def test_filenames_are_never_paths(mapi: Api, owner: str) -> None:
    hostile = ("../../../../tmp/evil.jpg", "..\\..\\evil.jpg", "/etc/passwd", 'a\r\nb".jpg')
    for index, name in enumerate(hostile):
        response = await mapi.rest_upload(
            samples.noisy_jpeg((64, 48), seed=index), user=owner, filename=name
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert KEY.match(body["storagePath"]), body["storagePath"]
        served = await mapi.client.get(body["publicUrl"])
        disposition = served.headers["content-disposition"]
        assert disposition == f'inline; filename="{body["mediaId"]}-original.jpg"'
    assert not any("evil" in key or "passwd" in key for key in await mapi.blob_keys())
    data_dir = mapi.settings.data_dir
    assert not any("evil" in p.name for p in data_dir.parent.rglob("*"))


async def test_hash_is_of_the_stored_bytes_and_dedupe_is_per_owner(
    mapi: Api, owner: str, other_owner: str
) -> None:
    upload = samples.jpeg_with_metadata(f"DEDUPE{owner[-6:]}")
    first = (await mapi.rest_upload(upload, user=owner)).json()
    again = (await mapi.rest_upload(upload, user=owner)).json()
    theirs = (await mapi.rest_upload(upload, user=other_owner)).json()
    stored = await fetch(mapi, first["publicUrl"])
    digest = hashlib.sha256(stored).hexdigest()
    assert first["sha256"] == digest
    # Stored under a keyed name: the listing does not tell which content it holds.
    assert digest not in first["storagePath"] and digest[:16] not in first["storagePath"]
    assert hashlib.sha256(upload).hexdigest() != digest  # the upload itself is never kept
    # Stored once; each upload is a media id of its own (one image per upload).
    assert again["mediaId"] != first["mediaId"] and again["storagePath"] == first["storagePath"]
    assert await media_rows(mapi, owner) == (1, 2)
    # Another owner with the same bytes gets their own object and their own blob.
    assert theirs["sha256"] == digest
    assert theirs["storagePath"] != first["storagePath"]
    assert theirs["mediaId"] != first["mediaId"]
    assert await media_rows(mapi, other_owner) == (1, 1)
    keys = await mapi.blob_keys()
    assert first["storagePath"] in keys and theirs["storagePath"] in keys
    # Every stored key is registered, and registered as referenced.
    renditions = await mapi.rendition_keys(first["storagePath"])
    async with mapi.stores.db.session() as session:
        registered = {
            row.key: row.orphaned_at
            for row in (
                await session.execute(
                    select(MediaBlob).where(MediaBlob.key.in_(renditions))  # type: ignore[attr-defined]
                )
            ).scalars()
        }
    assert set(registered) == set(renditions) and len(renditions) == 3
    assert all(value is None for value in registered.values())


async def test_thumbnail_and_medium_variants_are_made_at_upload(mapi: Api, owner: str) -> None:
    response = await mapi.rest_upload(samples.noisy_jpeg((1600, 1200), seed=3), user=owner)
    body = response.json()
    sizes = {}
    for name in ("thumbnailUrl", "mediumUrl", "publicUrl"):
        served = await mapi.client.get(body[name])
        img = Image.open(io.BytesIO(served.content))
        sizes[name] = (img.format, img.size, served.headers["content-type"])
    assert sizes["thumbnailUrl"] == ("WEBP", (256, 192), "image/webp")
    assert sizes["mediumUrl"] == ("WEBP", (1024, 768), "image/webp")
    assert sizes["publicUrl"] == ("JPEG", (1600, 1200), "image/jpeg")
    assert set(await mapi.rendition_keys(body["storagePath"])) <= await mapi.blob_keys()
