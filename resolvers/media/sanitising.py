"""Sanitising uploads: turning uploaded bytes into a clean, metadata-free image.

The type comes from the bytes, never from the client's header or filename: JPEG, PNG,
WebP, HEIC/HEIF, AVIF and single-frame GIF are read; HEIC/HEIF and AVIF are stored as
JPEG (PNG with transparency), GIF as PNG, so every browser shows them. Only the
re-encoded image is stored or served: orientation applied, colours moved to sRGB, and
no EXIF, GPS, XMP, IPTC, comments, maker notes, ICC profile or embedded thumbnail left,
because nothing of the upload's container is copied — only its pixels. A polyglot
(a PNG with HTML appended, a JPEG that is also a ZIP) comes out as a plain image.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import io
import os
import struct
import warnings
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import pillow_heif
from PIL import (
    AvifImagePlugin,
    Image,
    ImageCms,
    ImageOps,
    PngImagePlugin,
    UnidentifiedImageError,
)

from resolvers.errors import InvalidInput, TooLarge, UnsupportedMediaType
from resolvers.limits import Limits
from resolvers.media.plain_files import plain_container

_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

# MPO (a JPEG with extra frames: depth or gain maps) arrives through the JPEG plugin.
# AVIF before HEIF: Pillow's own AVIF plugin takes AV1 files, pillow-heif the HEVC ones.
_PIL_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "AVIF", "HEIF")

# Formats browsers do not all show are stored re-encoded: phone photos as JPEG (PNG when
# they have transparency), GIF as PNG (its palette and transparency lose nothing there).
_STORED_AS = {"HEIF": "JPEG", "AVIF": "JPEG", "GIF": "PNG"}

# ISO-BMFF brands of HEIF (HEVC) and AVIF (AV1) still images and sequences.
_HEIF_BRANDS = (
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
    b"mif1", b"msf1", b"avif", b"avis",
)  # fmt: skip

# Only the primary image is ever read: thumbnails, depth and auxiliary images (gain
# maps, mattes) are not even parsed. One decoder thread each: `_WORKERS` bounds how
# many decodes run at once, so a decode must not fan out over every core as well.
pillow_heif.register_heif_opener(
    thumbnails=False, depth_images=False, aux_images=False, decode_threads=1
)
AvifImagePlugin.DEFAULT_MAX_THREADS = 1

# Process-wide on purpose: `warnings.catch_warnings` is not thread-safe, and decoding
# runs in worker threads. A bomb warning anywhere in this process is an error.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

# Image work is CPU-bound and memory-hungry (a 40 MP RGBA image is 160 MB): a small,
# process-wide pool bounds how much of it runs at once, whatever the request rate.
_WORKERS = ThreadPoolExecutor(
    max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="meimages-image"
)

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

# Decompressed ancillary PNG data (text, XMP, ICC) we are willing to look at in total.
_MAX_PNG_ANCILLARY = 2 * 1024 * 1024

_MAX_PNG_CHUNKS = 4096

# Real HEIF/AVIF files have a handful of top-level boxes (ftyp, meta, mdat, maybe free).
_MAX_BMFF_BOXES = 64

T = TypeVar("T")


class Rejection(enum.StrEnum):
    """Why an upload is not an image we accept; stable values clients may switch on."""

    SVG = "svg"
    HTML = "html"
    PDF = "pdf"
    TIFF = "tiff"
    GIF = "gif"  # no longer given (single-frame GIFs are accepted); kept for clients
    HEIF = "heif"  # a HEIF/AVIF container that does not decode
    OTHER_IMAGE = "other-image"
    NOT_AN_IMAGE = "not-an-image"
    ANIMATED = "animated"
    COMPRESSED_TEXT_BOMB = "compressed-text-bomb"
    CORRUPT = "corrupt"
    TIMEOUT = "timeout"


class ImageRejected(UnsupportedMediaType):
    """An upload refused by the image defences, with the reason."""

    def __init__(self, reason: Rejection, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes
    medium: bytes
    sha256: str


def _sniff(data: bytes) -> Rejection | None:
    """None when the bytes start like a format we decode; otherwise what they look like."""
    head = data[:2048]
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return None
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return Rejection.TIFF
    if head.startswith((b"GIF87a", b"GIF89a")):
        return None
    if b"%PDF-" in head[:1024]:
        return Rejection.PDF
    if head[4:8] == b"ftyp":
        return None if head[8:12] in _HEIF_BRANDS else Rejection.NOT_AN_IMAGE
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n\x0c").lower()
    if text.startswith(b"<"):
        if b"<svg" in text:
            return Rejection.SVG
        if text.startswith(b"<?xml") and b"<!doctype svg" in text:
            return Rejection.SVG
        return Rejection.HTML
    if head.startswith((b"BM", b"\x00\x00\x01\x00", b"8BPS", b"\x00\x00\x00\x0cjP  ")):
        return Rejection.OTHER_IMAGE
    return Rejection.NOT_AN_IMAGE


ACCEPTED = "JPEG, PNG, WebP, HEIC/HEIF, AVIF or single-frame GIF"

_SNIFF_MESSAGES = {
    Rejection.SVG: f"SVG files are not accepted (they can carry scripts); upload a {ACCEPTED}",
    Rejection.HTML: "this is markup (HTML/XML), not an image",
    Rejection.PDF: f"PDF files are not accepted; upload a {ACCEPTED}",
    Rejection.TIFF: f"TIFF files are not accepted; upload a {ACCEPTED}",
    Rejection.HEIF: "this HEIC/HEIF/AVIF file could not be decoded (corrupt or an unsupported variant)",
    Rejection.OTHER_IMAGE: f"only {ACCEPTED} images are accepted",
    Rejection.NOT_AN_IMAGE: f"the file is not a {ACCEPTED} image",
}


def _check_png_chunks(data: bytes) -> None:
    """Walk the PNG chunk list before Pillow does: refuse animation (APNG) and
    compressed text/XMP/ICC chunks that inflate beyond a small budget."""
    pos, budget, chunks = 8, _MAX_PNG_ANCILLARY, 0
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        chunks += 1
        if chunks > _MAX_PNG_CHUNKS:
            raise ImageRejected(Rejection.CORRUPT, "the PNG has too many chunks")
        if ctype == b"IEND":
            return  # anything after IEND (an appended payload) is never read
        if ctype == b"acTL":
            raise ImageRejected(Rejection.ANIMATED, "animated PNGs are not accepted")
        if ctype == b"tEXt":
            budget -= len(body)
        elif ctype in (b"zTXt", b"iCCP", b"iTXt"):
            compressed = _png_compressed_part(ctype, body)
            if compressed is not None:
                budget -= _inflated_size(compressed, budget + 1)
        if budget < 0:
            raise ImageRejected(
                Rejection.COMPRESSED_TEXT_BOMB,
                "the PNG's text or profile chunks inflate far beyond any real photo's",
            )


def _check_bmff_boxes(data: bytes) -> None:
    """Walk the top-level boxes of a HEIF/AVIF file: each must end inside the file.
    libheif decodes a file cut short (tiles missing) into filler pixels without an error,
    and a half-grey photo must not be stored as if it were the upload."""
    pos, boxes = 0, 0
    while pos < len(data):
        boxes += 1
        if boxes > _MAX_BMFF_BOXES or pos + 8 > len(data):
            raise ImageRejected(Rejection.CORRUPT, "the image data is truncated or corrupt")
        size = struct.unpack(">I", data[pos : pos + 4])[0]
        if size == 0:
            return  # the last box runs to the end of the file
        if size == 1:
            if pos + 16 > len(data):
                raise ImageRejected(Rejection.CORRUPT, "the image data is truncated or corrupt")
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        if size < 8 or pos + size > len(data):
            raise ImageRejected(Rejection.CORRUPT, "the image data is truncated or corrupt")
        pos += size


def _png_compressed_part(ctype: bytes, body: bytes) -> bytes | None:
    keyword_end = body.find(b"\x00")
    if keyword_end < 0:
        return None
    if ctype in (b"zTXt", b"iCCP"):
        return body[keyword_end + 2 :]  # keyword NUL, method byte
    if len(body) > keyword_end + 2 and body[keyword_end + 1] == 1:  # iTXt, compressed flag
        rest = body[keyword_end + 3 :]
        for _ in range(2):  # language tag, translated keyword
            end = rest.find(b"\x00")
            if end < 0:
                return None
            rest = rest[end + 1 :]
        return rest
    return None


def _inflated_size(compressed: bytes, limit: int) -> int:
    """Inflate at most `limit` bytes; never more, however small the input."""
    inflater = zlib.decompressobj()
    try:
        return len(inflater.decompress(compressed, limit))
    except zlib.error:
        return 0  # corrupt text is Pillow's (and our CORRUPT) business, not a bomb


def decode(
    data: bytes,
    limits: Limits,
    *,
    draft: Callable[[int, int], tuple[int, int]] | None = None,
) -> tuple[Image.Image, str]:
    """Decode with the allowed formats only, pixel cap first; returns image and format.

    `draft` maps the full size to the smallest size the caller needs, so a JPEG can be
    decoded at a reduced scale (much faster for small renditions of large photos).
    """
    rejection = _sniff(data)
    if rejection is not None:
        raise ImageRejected(rejection, _SNIFF_MESSAGES[rejection])
    if data.startswith(b"\x89PNG"):
        _check_png_chunks(data)
    heif_family = data[4:8] == b"ftyp"
    if heif_family:
        _check_bmff_boxes(data)
    try:
        img: Image.Image = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
        fmt = "JPEG" if img.format == "MPO" else (img.format or "")
        if fmt not in _PIL_FORMATS:
            raise ImageRejected(Rejection.OTHER_IMAGE, _SNIFF_MESSAGES[Rejection.OTHER_IMAGE])
        pixels = img.width * img.height
        if Image.MAX_IMAGE_PIXELS is not None and pixels > Image.MAX_IMAGE_PIXELS:
            # Pillow's bomb warning, as an error even where warning filters were changed.
            raise Image.DecompressionBombError(f"{pixels} pixels")
        if pixels > limits.max_image_pixels:
            raise TooLarge(
                f"images are limited to {limits.max_image_pixels} pixels "
                f"(this one has {img.width}x{img.height})",
                limits.max_upload_bytes,
            )
        if img.format == "MPO":
            img.seek(0)  # the primary picture; depth and gain maps are dropped
        elif getattr(img, "n_frames", 1) > 1 or getattr(img, "is_animated", False):
            raise ImageRejected(
                Rejection.ANIMATED, "animated or multi-image files are not accepted"
            )
        if draft is not None and fmt == "JPEG":
            img.draft(img.mode, draft(img.width, img.height))
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLarge("the image has too many pixels", limits.max_upload_bytes) from exc
    except UnidentifiedImageError as exc:
        reason = Rejection.HEIF if heif_family else Rejection.NOT_AN_IMAGE
        raise ImageRejected(reason, _SNIFF_MESSAGES[reason]) from exc
    except (OSError, SyntaxError, ValueError, RuntimeError, struct.error, EOFError) as exc:
        # libheif reports broken files as RuntimeError
        raise ImageRejected(Rejection.CORRUPT, "the image data is truncated or corrupt") from exc
    return img, fmt


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _to_srgb(img: Image.Image) -> Image.Image:
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower():
            return img
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img  # an unreadable profile is dropped; the pixels stay as they are
    return converted if converted is not None else img


def canonical(img: Image.Image) -> Image.Image:
    """Oriented, sRGB, one of L/LA/RGB/RGBA, and nothing but pixels."""
    img = ImageOps.exif_transpose(img, in_place=False) or img
    img = _to_srgb(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # 16-bit and float greys: scale to 8 bits (a plain convert would clip to white).
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode not in ("L", "LA", "RGB", "RGBA") or "transparency" in img.info:
        alpha = _has_alpha(img)
        if img.mode in ("L", "LA"):
            img = img.convert("LA" if alpha else "L")
        else:
            img = img.convert("RGBA" if alpha else "RGB")
    # Nothing from the upload's container survives: EXIF, XMP, comments, ICC, dpi, text.
    img.info = {}
    return img


def fit_inside(img: Image.Image, box_w: int, box_h: int) -> Image.Image:
    scale = min(box_w / img.width, box_h / img.height, 1.0)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    if size == img.size:
        return img.copy()
    # A box pre-reduction, then Lanczos: half the time of plain Lanczos on a 12 MP photo,
    # at a mean difference under one level in 255.
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.5)


def _webp_ready(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "RGBA"):
        return img
    return img.convert("RGBA" if img.mode == "LA" else "RGB")


def jpeg_ready(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA"):
        # JPEG has no alpha: flatten onto white rather than onto black.
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img.convert("RGBA"), mask=img.getchannel("A"))
        return background
    return img.convert("RGB")


def save_as(img: Image.Image, fmt: str, *, quality: int, xmp: bytes | None = None) -> bytes:
    """Encode the pixels; `xmp` is the only metadata block ever written (generated
    images carry their IPTC digital source type in it)."""
    out = io.BytesIO()
    if fmt == "JPEG":
        jpeg_ready(img).save(out, "JPEG", quality=quality, **({"xmp": xmp} if xmp else {}))
    elif fmt == "PNG":
        info = None
        if xmp:
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode())
        img.save(out, "PNG", compress_level=6, pnginfo=info)
    else:
        webp = _webp_ready(img)
        webp.save(out, "WEBP", quality=quality, method=4, **({"xmp": xmp} if xmp else {}))
    return out.getvalue()


def stored_format(decoded_format: str, img: Image.Image) -> str:
    """The format an upload is kept in: its own where every browser shows it."""
    stored = _STORED_AS.get(decoded_format, decoded_format)
    return "PNG" if stored == "JPEG" and decoded_format != "JPEG" and _has_alpha(img) else stored


def _encode(data: bytes, limits: Limits, keep_plain: bool = False) -> EncodedImage:
    decoded, decoded_format = decode(data, limits)
    img = canonical(decoded)
    fmt = stored_format(decoded_format, img)
    # The file's own bytes only when asked, and only when they already are that format
    # with nothing but pixel data (see `plain_files`).
    plain = keep_plain and fmt == decoded_format and plain_container(data, fmt)
    return with_variants(img, data if plain else save_as(img, fmt, quality=90), fmt, limits)


def with_variants(
    img: Image.Image, encoded: bytes, fmt: str, limits: Limits, *, xmp: bytes | None = None
) -> EncodedImage:
    """The stored image (`encoded`, in `fmt`, showing the canonical `img`) with the medium
    and thumbnail renditions every stored image has (carrying `xmp`, if given)."""
    medium = fit_inside(img, limits.medium_px, limits.medium_px)
    thumbnail = fit_inside(medium, limits.thumbnail_px, limits.thumbnail_px)
    return EncodedImage(
        data=encoded,
        content_type=_CONTENT_TYPES[fmt],
        width=img.width,
        height=img.height,
        thumbnail=save_as(thumbnail, "WEBP", quality=80, xmp=xmp),
        medium=save_as(medium, "WEBP", quality=82, xmp=xmp),
        sha256=hashlib.sha256(encoded).hexdigest(),
    )


async def in_worker(limits: Limits, fn: Callable[..., T], *args: object) -> T:
    """Run image work off the event loop, in the bounded pool, within the time bound."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(
            loop.run_in_executor(_WORKERS, fn, *args), timeout=limits.decode_timeout_s
        )
    except TimeoutError as exc:
        raise ImageRejected(Rejection.TIMEOUT, "the image took too long to process") from exc


async def encode_upload(data: bytes, limits: Limits, *, keep_plain: bool = False) -> EncodedImage:
    """The image to store for uploaded bytes, validated and re-encoded; `keep_plain`: a
    file that already is what meimages stores keeps its bytes (an import's archive)."""
    if len(data) > limits.max_upload_bytes:
        raise TooLarge(
            f"files are limited to {limits.max_upload_bytes} bytes", limits.max_upload_bytes
        )
    if not data:
        raise InvalidInput("the file is empty", field="file")
    if keep_plain:
        return await in_worker(limits, _encode, data, limits, True)
    return await in_worker(limits, _encode, data, limits)
