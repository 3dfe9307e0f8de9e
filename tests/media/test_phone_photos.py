"""Phone photos (HEIC/HEIF, AVIF) and single-frame GIFs: accepted through both upload
doors, stored clean, upright and in a format every browser shows; animated and
multi-image containers refused, nothing kept. On every database x blob store."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from testbed import phone_photos as photos
from tests.media.test_ingest import fetch, media_rows
from tests.support.app import Api

CANARY_PARTS = ("GPS-EXIF-", "GPS-XMP-", "DESC-", "MAKE-")
MARKERS = (b"Exif", b"http://ns.adobe.com/xap", b"adobe:ns:meta", b"ftyp")


def assert_upright_halves(img: Image.Image) -> None:
    """Orientation 6 applied once: the upload's red left half is now on top."""
    assert img.size == (80, 160)
    red, blue = img.convert("RGB").getpixel((40, 30)), img.convert("RGB").getpixel((40, 130))
    assert isinstance(red, tuple) and isinstance(blue, tuple)
    assert red[0] > 180 and red[2] < 80, red
    assert blue[2] > 180 and blue[0] < 80, blue


async def assert_every_blob_clean(mapi: Api, owner: str, storage_path: str, canary: str) -> None:
    keys = await mapi.rendition_keys(storage_path, variants=True)
    assert len(keys) == 3 and set(keys) <= await mapi.blob_keys()  # original, medium, thumbnail
    for key in keys:
        data = await mapi.opened(owner, key)
        assert data is not None and canary.encode() not in data, key
        assert b"GPS" not in data, key


@pytest.mark.parametrize(
    "make", [photos.heic_with_metadata, photos.avif_with_metadata], ids=["heic", "avif"]
)
async def test_phone_photo_through_graphql_is_clean_upright_jpeg(
    mapi: Api, owner: str, make: object
) -> None:
    canary = f"PHONE{owner[-6:]}"
    upload = make(canary)  # type: ignore[operator]
    for part in CANARY_PARTS:
        assert f"{part}{canary}".encode() in upload  # the EXIF and the XMP item carry GPS
    image = await mapi.upload(
        upload, user=owner, filename="IMG_0001.HEIC", content_type="application/octet-stream"
    )
    assert image["__typename"] == "MeImage", image
    assert (image["width"], image["height"]) == (80, 160)
    for url in (image["publicUrl"], image["thumbnailUrl"]):
        stored = await fetch(mapi, url)
        assert canary.encode() not in stored
        for marker in MARKERS:
            assert marker not in stored, marker
    original = Image.open(io.BytesIO(await fetch(mapi, image["publicUrl"])))
    assert original.format == "JPEG"
    assert not original.getexif() and "xmp" not in original.info
    assert "icc_profile" not in original.info
    assert_upright_halves(original)
    await assert_every_blob_clean(mapi, owner, image["storagePath"], canary)


async def test_heic_through_rest_is_stored_as_jpeg(mapi: Api, owner: str) -> None:
    canary = f"REST{owner[-6:]}"
    response = await mapi.rest_upload(
        photos.heic_with_metadata(canary),
        user=owner,
        filename="IMG_0002.HEIC",
        content_type="image/heic",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["contentType"] == "image/jpeg"
    assert (body["width"], body["height"]) == (80, 160)
    stored = await fetch(mapi, body["publicUrl"])
    assert canary.encode() not in stored and b"GPS" not in stored
    assert_upright_halves(Image.open(io.BytesIO(stored)))
    await assert_every_blob_clean(mapi, owner, body["storagePath"], canary)


async def test_heic_grid_is_decoded_whole(mapi: Api, owner: str) -> None:
    upload = photos.heic_grid((300, 200), tile=64)
    assert Image.open(io.BytesIO(upload)).info["tiling"]["num_columns"] == 5
    response = await mapi.rest_upload(upload, user=owner, content_type="image/heic")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (300, 200)
    stored = Image.open(io.BytesIO(await fetch(mapi, body["publicUrl"]))).convert("RGB")
    # Every tile arrived: the corners of the grid are the colours of the source.
    for x, y, colour in ((2, 2, "red"), (2, 197, "red"), (297, 2, "blue"), (297, 197, "blue")):
        pixel = stored.getpixel((x, y))
        assert isinstance(pixel, tuple)
        assert (pixel[0] > 180) == (colour == "red") and (pixel[2] > 180) == (colour == "blue")


async def test_heic_with_transparency_is_stored_as_png(mapi: Api, owner: str) -> None:
    response = await mapi.rest_upload(photos.heic_with_alpha(), user=owner)
    assert response.status_code == 201, response.text
    assert response.json()["contentType"] == "image/png"
    stored = Image.open(io.BytesIO(await fetch(mapi, response.json()["publicUrl"])))
    assert stored.format == "PNG" and stored.mode == "RGBA"
    alpha = stored.getpixel((10, 10))
    assert isinstance(alpha, tuple) and 100 < alpha[3] < 160


async def test_single_frame_gif_is_stored_as_png(mapi: Api, owner: str) -> None:
    canary = f"GIF{owner[-6:]}"
    upload = photos.gif_with_transparency(canary)
    assert canary.encode() in upload
    image = await mapi.upload(upload, user=owner, filename="x.gif", content_type="image/gif")
    assert image["__typename"] == "MeImage", image
    stored = await fetch(mapi, image["publicUrl"])
    assert canary.encode() not in stored
    decoded = Image.open(io.BytesIO(stored))
    assert decoded.format == "PNG" and decoded.size == (160, 80) and decoded.info == {}


@pytest.mark.parametrize(
    "make",
    [photos.heic_with_several_images, photos.animated_avif, photos.animated_gif],
    ids=["heic-several-images", "avif-sequence", "animated-gif"],
)
async def test_animated_and_multi_image_containers_are_refused(
    mapi: Api, owner: str, make: object
) -> None:
    upload = make()  # type: ignore[operator]
    assert getattr(Image.open(io.BytesIO(upload)), "n_frames", 1) == 2
    before = await mapi.blob_keys()
    response = await mapi.rest_upload(upload, user=owner)
    assert response.status_code == 415, response.text
    assert response.json()["error"]["reason"] == "animated"
    result = await mapi.upload(
        upload, user=owner, fields="__typename ... on UnsupportedMediaTypeError { code reason }"
    )
    assert result == {
        "__typename": "UnsupportedMediaTypeError",
        "code": "UNSUPPORTED_MEDIA_TYPE",
        "reason": "ANIMATED",
    }
    assert await mapi.blob_keys() == before
    assert await media_rows(mapi, owner) == (0, 0)


async def test_truncated_heic_is_refused_as_corrupt(mapi: Api, owner: str) -> None:
    upload = photos.heic_grid()
    before = await mapi.blob_keys()
    response = await mapi.rest_upload(upload[: len(upload) // 2], user=owner)
    assert response.status_code == 415, response.text
    assert response.json()["error"]["reason"] in ("corrupt", "heif")
    assert await mapi.blob_keys() == before
    assert await media_rows(mapi, owner) == (0, 0)


async def test_heic_with_a_depth_map_keeps_only_the_primary_image(mapi: Api, owner: str) -> None:
    upload = photos.heic_with_depth_map()
    assert photos.depth_map_sizes(upload) == [(40, 20)]  # a real depth map, by libheif
    response = await mapi.rest_upload(upload, user=owner, content_type="image/heic")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (160, 80)
    stored = await fetch(mapi, body["publicUrl"])
    assert photos.DEPTH_URN not in stored and b"auxl" not in stored
    decoded = Image.open(io.BytesIO(stored))
    assert decoded.format == "JPEG" and getattr(decoded, "n_frames", 1) == 1
    left, right = (
        decoded.convert("RGB").getpixel((20, 40)),
        decoded.convert("RGB").getpixel((140, 40)),
    )
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[0] > 180 and right[2] > 180
