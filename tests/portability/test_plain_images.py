"""Which archived files keep their bytes on import: exactly those that hold nothing but
pixel data, as meimages' own re-encoded files do; anything else is re-encoded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from resolvers.limits import Limits
from resolvers.media.plain_files import plain_container
from resolvers.media.sanitising import encode_upload
from testbed import media_samples as samples
from testbed.images import jpeg, make_image, png, webp

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def transparent_webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (40, 30), (10, 20, 30, 128)).save(out, "WEBP", quality=80)
    return out.getvalue()


def progressive_jpeg() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg(5, (300, 200)))).save(out, "JPEG", progressive=True)
    return out.getvalue()


@pytest.mark.parametrize(
    "upload",
    [
        jpeg(1),
        png(2),
        webp(3),
        transparent_webp(),
        progressive_jpeg(),
        make_image("PNG", (64, 64), 9),
    ],
    ids=["jpeg", "png", "webp", "webp-alpha", "jpeg-progressive", "png-small"],
)
async def test_what_meimages_stores_is_kept_byte_for_byte(upload: bytes) -> None:
    stored = await encode_upload(upload, Limits())
    assert plain_container(stored.data, FORMATS[stored.content_type])
    again = await encode_upload(stored.data, Limits(), keep_plain=True)
    assert again.data == stored.data and again.sha256 == stored.sha256


def with_trailer(data: bytes) -> bytes:
    return data + b"<script>alert(1)</script>"


def jfif_with_thumbnail() -> bytes:
    data = jpeg(6)
    # A JFIF segment that announces a 1x1 thumbnail (3 more bytes).
    segment = b"\xff\xe0\x00\x13JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x01\x01" + b"\x00\x00\x00"
    start = data.index(b"\xff\xe0")
    end = start + 2 + int.from_bytes(data[start + 2 : start + 4], "big")
    return data[:start] + segment + data[end:]


def webp_with_exif(canary: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(out, "WEBP", exif=samples.exif_block(canary))
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (samples.jpeg_with_metadata("plain-canary"), "JPEG"),
        (samples.png_with_metadata("plain-canary"), "PNG"),
        (webp_with_exif("plain-canary"), "WEBP"),
        (with_trailer(jpeg(7)), "JPEG"),
        (samples.png_with_html_appended(), "PNG"),
        (samples.jpeg_zip_polyglot(), "JPEG"),
        (jfif_with_thumbnail(), "JPEG"),
    ],
    ids=[
        "jpeg-exif-xmp-iptc",
        "png-text-xmp",
        "webp-exif",
        "jpeg-trailer",
        "png-html",
        "jpeg-zip",
        "jfif-thumb",
    ],
)
async def test_anything_else_is_re_encoded_without_metadata(data: bytes, fmt: str) -> None:
    assert not plain_container(data, fmt)
    prepared = await encode_upload(data, Limits(), keep_plain=True)
    assert prepared.data != data
    assert b"plain-canary" not in prepared.data and b"<script" not in prepared.data
    assert plain_container(prepared.data, FORMATS[prepared.content_type])
