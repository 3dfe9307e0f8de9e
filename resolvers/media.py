"""Media: turning uploaded bytes into stored, private, metadata-free images.

The type comes from the bytes, never from the client's header or filename. Only the
re-encoded image is stored or served: orientation applied, colours moved to sRGB, and
no EXIF, GPS, XMP, IPTC, comments, maker notes, ICC profile or embedded thumbnail left,
because nothing of the upload's container is copied — only its pixels. A polyglot
(a PNG with HTML appended, a JPEG that is also a ZIP) comes out as a plain image.

Blobs and rows follow one protocol so that a row never points at a missing blob and no
blob is left untracked (see `storage.tables.MediaBlob`):
1. register the keys (`orphaned_at` = now: not referenced yet) and commit;
2. write the bytes (durable when `put` returns);
3. under the owner's lock, check the registrations are still there (the garbage
   collector removes bytes and registration together) and link rows to the keys.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import io
import logging
import os
import re
import struct
import warnings
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy import ColumnElement, case, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from resolvers.errors import InvalidInput, NotFound, TooLarge, UnsupportedMediaType
from resolvers.owners import lock_owner
from resolvers.stores import Caller, Limits, Stores
from storage.tables import MediaBlob, MediaObject, MediaRef, MediaVariant, MeImage, utcnow

log = logging.getLogger("meimages.media")

APP_ME = "me"
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# MPO (a JPEG with extra frames: depth or gain maps) arrives through the JPEG plugin.
_PIL_FORMATS = ("JPEG", "PNG", "WEBP")

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

T = TypeVar("T")


class Rejection(enum.StrEnum):
    """Why an upload is not an image we accept; stable values clients may switch on."""

    SVG = "svg"
    HTML = "html"
    PDF = "pdf"
    TIFF = "tiff"
    GIF = "gif"
    HEIF = "heif"
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


class Fit(enum.StrEnum):
    COVER = "cover"  # exactly width x height, cropped to fill
    CONTAIN = "contain"  # exactly width x height, letterboxed
    INSIDE = "inside"  # within width x height, aspect kept, never enlarged


class OutputFormat(enum.StrEnum):
    WEBP = "webp"
    PNG = "png"
    JPEG = "jpeg"


_TRANSFORM = re.compile(
    r"^(?:w([1-9][0-9]{0,3}))?(?:h([1-9][0-9]{0,3}))?-(cover|contain|inside)\.(webp|png|jpeg)$"
)


@dataclass(frozen=True)
class TransformSpec:
    """An on-the-fly rendition; its canonical name (`w320h240-cover.webp`) is the variant."""

    width: int | None
    height: int | None
    fit: Fit
    format: OutputFormat

    @property
    def name(self) -> str:
        w = f"w{self.width}" if self.width else ""
        h = f"h{self.height}" if self.height else ""
        return f"{w}{h}-{self.fit.value}.{self.format.value}"

    @property
    def content_type(self) -> str:
        return f"image/{self.format.value}"

    @classmethod
    def build(
        cls,
        width: int | None,
        height: int | None,
        fit: Fit = Fit.INSIDE,
        format: OutputFormat = OutputFormat.WEBP,
        *,
        max_px: int,
    ) -> TransformSpec:
        if width is None and height is None:
            raise InvalidInput("give a width, a height or both", field="width")
        for name, value in (("width", width), ("height", height)):
            if value is not None and not 1 <= value <= max_px:
                raise InvalidInput(f"{name} must be between 1 and {max_px}", field=name)
        return cls(width, height, fit, format)

    @classmethod
    def parse(cls, name: str, *, max_px: int) -> TransformSpec | None:
        """The spec a variant name stands for, or None; only canonical names parse."""
        match = _TRANSFORM.match(name)
        if match is None:
            return None
        width = int(match[1]) if match[1] else None
        height = int(match[2]) if match[2] else None
        if (width is None and height is None) or max(width or 0, height or 0) > max_px:
            return None
        return cls(width, height, Fit(match[3]), OutputFormat(match[4]))


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes
    medium: bytes
    sha256: str


@dataclass(frozen=True)
class Media:
    """An owner's stored media as the API shows it."""

    id: str
    owner_id: str
    content_type: str
    byte_size: int
    width: int
    height: int
    storage_path: str
    thumbnail_path: str
    created_at: datetime
    sha256: str = ""
    object_id: str = ""
    medium_path: str | None = None
    # The space the media id belongs to; empty where unknown (event snapshots).
    space_id: str = ""


@dataclass(frozen=True)
class Rendition:
    """Bytes of one variant, ready to serve."""

    data: bytes
    content_type: str
    etag: str


# --- Defences: what the bytes are ----------------------------------------------------


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
        return Rejection.GIF
    if b"%PDF-" in head[:1024]:
        return Rejection.PDF
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif"):
            return Rejection.HEIF
        return Rejection.NOT_AN_IMAGE
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


_SNIFF_MESSAGES = {
    Rejection.SVG: "SVG files are not accepted (they can carry scripts); upload a JPEG, PNG or WebP",
    Rejection.HTML: "this is markup (HTML/XML), not an image",
    Rejection.PDF: "PDF files are not accepted; upload a JPEG, PNG or WebP",
    Rejection.TIFF: "TIFF files are not accepted; upload a JPEG, PNG or WebP",
    Rejection.GIF: "GIF files are not accepted; upload a JPEG, PNG or WebP",
    Rejection.HEIF: "HEIC/AVIF files are not accepted yet; export the photo as JPEG",
    Rejection.OTHER_IMAGE: "only JPEG, PNG and WebP images are accepted",
    Rejection.NOT_AN_IMAGE: "the file is not a JPEG, PNG or WebP image",
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


def _open(
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
    try:
        img: Image.Image = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
        fmt = "JPEG" if img.format == "MPO" else (img.format or "")
        if fmt not in _CONTENT_TYPES:
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
                Rejection.ANIMATED, "animated or multi-frame images are not accepted"
            )
        if draft is not None and fmt == "JPEG":
            img.draft(img.mode, draft(img.width, img.height))
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLarge("the image has too many pixels", limits.max_upload_bytes) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            Rejection.NOT_AN_IMAGE, _SNIFF_MESSAGES[Rejection.NOT_AN_IMAGE]
        ) from exc
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise ImageRejected(Rejection.CORRUPT, "the image data is truncated or corrupt") from exc
    return img, fmt


# --- Pixels: orient, colour, canonical mode --------------------------------------------


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


def _canonical(img: Image.Image) -> Image.Image:
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


def _fit_inside(img: Image.Image, box_w: int, box_h: int) -> Image.Image:
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


def _jpeg_ready(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA"):
        # JPEG has no alpha: flatten onto white rather than onto black.
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img.convert("RGBA"), mask=img.getchannel("A"))
        return background
    return img.convert("RGB")


def _save(img: Image.Image, fmt: str, *, quality: int) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        _jpeg_ready(img).save(out, "JPEG", quality=quality)
    elif fmt == "PNG":
        img.save(out, "PNG", compress_level=6)
    else:
        _webp_ready(img).save(out, "WEBP", quality=quality, method=4)
    return out.getvalue()


def _encode(data: bytes, limits: Limits) -> EncodedImage:
    decoded, fmt = _open(data, limits)
    img = _canonical(decoded)
    encoded = _save(img, fmt, quality=90)
    medium = _fit_inside(img, limits.medium_px, limits.medium_px)
    thumbnail = _fit_inside(medium, limits.thumbnail_px, limits.thumbnail_px)
    return EncodedImage(
        data=encoded,
        content_type=_CONTENT_TYPES[fmt],
        width=img.width,
        height=img.height,
        thumbnail=_save(thumbnail, "WEBP", quality=80),
        medium=_save(medium, "WEBP", quality=82),
        sha256=hashlib.sha256(encoded).hexdigest(),
    )


def _target_size(spec: TransformSpec, src_w: int, src_h: int) -> tuple[int, int]:
    """The box a transform aims at; a missing side follows the source's aspect ratio."""
    want_w = spec.width or max(1, round(src_w * (spec.height or src_h) / src_h))
    want_h = spec.height or max(1, round(src_h * (spec.width or src_w) / src_w))
    return want_w, want_h


def _transform(original: bytes, spec: TransformSpec, limits: Limits) -> bytes:
    def needed(src_w: int, src_h: int) -> tuple[int, int]:
        want_w, want_h = _target_size(spec, src_w, src_h)
        scale = max(want_w / src_w, want_h / src_h)
        if spec.fit is not Fit.COVER:
            scale = min(want_w / src_w, want_h / src_h)
        return max(1, round(src_w * scale)), max(1, round(src_h * scale))

    decoded, _fmt = _open(original, limits, draft=needed)
    want_w, want_h = _target_size(spec, *decoded.size)
    img = _canonical(decoded)
    if spec.format is OutputFormat.JPEG:
        img = _jpeg_ready(img)
    cap = limits.max_transform_px
    if spec.fit is Fit.INSIDE:
        out = _fit_inside(img, spec.width or cap, spec.height or cap)
    else:
        box = (min(want_w, cap), min(want_h, cap))
        if spec.fit is Fit.COVER:
            out = ImageOps.fit(img, box, Image.Resampling.LANCZOS)
        else:
            fill = (255, 255, 255) if spec.format is OutputFormat.JPEG else None
            if fill is None:
                img = img.convert("RGBA") if img.mode in ("RGB", "RGBA") else img.convert("LA")
            out = ImageOps.pad(img, box, Image.Resampling.LANCZOS, color=fill)
    quality = 85 if spec.format is OutputFormat.JPEG else 82
    return _save(out, spec.format.name, quality=quality)


async def _in_worker(limits: Limits, fn: Callable[..., T], *args: object) -> T:
    """Run image work off the event loop, in the bounded pool, within the time bound."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(
            loop.run_in_executor(_WORKERS, fn, *args), timeout=limits.decode_timeout_s
        )
    except TimeoutError as exc:
        raise ImageRejected(Rejection.TIMEOUT, "the image took too long to process") from exc


async def encode_upload(data: bytes, limits: Limits) -> EncodedImage:
    if len(data) > limits.max_upload_bytes:
        raise TooLarge(
            f"files are limited to {limits.max_upload_bytes} bytes", limits.max_upload_bytes
        )
    if not data:
        raise InvalidInput("the file is empty", field="file")
    return await _in_worker(limits, _encode, data, limits)


# --- Keys, registrations and rows --------------------------------------------------------


def _owner_prefix(owner_id: str) -> str:
    # Owner ids are not path-safe; their digest is. It also keeps owners' keys apart.
    return hashlib.sha256(owner_id.encode()).hexdigest()[:24]


def _base_key(owner_id: str, sha256: str) -> str:
    return f"o/{_owner_prefix(owner_id)}/{sha256[:2]}/{sha256}"


def media_from_rows(obj: MediaObject, ref: MediaRef) -> Media:
    created = ref.created_at
    return Media(
        id=ref.id,
        owner_id=ref.owner_id,
        content_type=obj.content_type,
        byte_size=obj.byte_size,
        width=obj.width,
        height=obj.height,
        storage_path=obj.storage_path,
        thumbnail_path=obj.thumbnail_path,
        # SQLite hands back naive datetimes; everything we write is UTC.
        created_at=created if created.tzinfo is not None else created.replace(tzinfo=UTC),
        sha256=obj.sha256,
        object_id=obj.id,
        medium_path=obj.medium_path,
        space_id=ref.space_id,
    )


class _RegistrationLost(Exception):
    """The garbage collector removed a registration (and maybe the bytes) meanwhile."""


async def register_blobs(stores: Stores, owner_id: str, keys: Iterable[str]) -> None:
    """Step 1: record the keys before their bytes exist, so no blob is ever untracked.
    A key already referenced stays referenced; an orphaned one starts its grace again."""
    now = utcnow()
    rows = [
        {"key": key, "owner_id": owner_id, "created_at": now, "orphaned_at": now}
        for key in sorted(set(keys))
    ]
    table = MediaBlob.__table__  # type: ignore[attr-defined]
    keep_referenced = {"orphaned_at": case((table.c.orphaned_at.is_(None), None), else_=now)}
    async with stores.db.transaction() as session:
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            pg = postgresql.insert(table).values(rows)
            await session.execute(
                pg.on_conflict_do_update(index_elements=[table.c.key], set_=keep_referenced)
            )
        else:
            lite = sqlite.insert(table).values(rows)
            await session.execute(
                lite.on_conflict_do_update(index_elements=[table.c.key], set_=keep_referenced)
            )


async def _claim_blobs(session: AsyncSession, keys: Iterable[str]) -> None:
    """Step 3, inside the linking transaction: lock the registrations (in key order, so
    transactions never wait on each other in a cycle) and mark them referenced."""
    wanted = sorted(set(keys))
    found = (
        (
            await session.execute(
                select(col(MediaBlob.key))
                .where(col(MediaBlob.key).in_(wanted))
                .order_by(col(MediaBlob.key))
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    if len(found) != len(wanted):
        raise _RegistrationLost()
    await session.execute(
        update(MediaBlob).where(col(MediaBlob.key).in_(wanted)).values(orphaned_at=None)
    )


async def store_image(stores: Stores, caller: Caller, data: bytes, app: str = APP_ME) -> Media:
    """Validate, re-encode and store an upload; returns a new media id of the caller's space.

    The bytes are stored once per owner, whatever the space, but every upload is a
    media id of its own. So uploading the same photo twice gives two images (what a
    person who adds a photo twice sees happen), each with its own URLs: deleting one
    revokes its URLs without touching the other's, and a deleted image's URLs never
    come back by uploading the photo again. Uploads never attached to an image are
    removed by `purge --deleted` after its cutoff.
    """
    image = await encode_upload(data, stores.limits)
    base = _base_key(caller.owner_id, image.sha256)
    blobs = {
        base: image.data,
        f"{base}.thumb.webp": image.thumbnail,
        f"{base}.medium.webp": image.medium,
    }
    for _attempt in range(5):
        await register_blobs(stores, caller.owner_id, blobs)
        # Bytes first, row second: a committed row never points at a missing blob.
        await asyncio.gather(*(stores.blobs.put(key, value) for key, value in blobs.items()))
        try:
            async with stores.db.transaction() as session:
                await lock_owner(session, caller.owner_id)
                await _claim_blobs(session, blobs)
                return await _link(session, caller, image, app, base)
        except (_RegistrationLost, IntegrityError):
            # Collected meanwhile, or a concurrent upload of the same bytes won an insert.
            continue
    raise RuntimeError("could not record media after repeated conflicts")


async def _link(
    session: AsyncSession, caller: Caller, image: EncodedImage, app: str, base: str
) -> Media:
    obj = (
        await session.execute(
            select(MediaObject).where(
                MediaObject.owner_id == caller.owner_id,  # type: ignore[arg-type]
                MediaObject.sha256 == image.sha256,  # type: ignore[arg-type]
            )
        )
    ).scalar_one_or_none()
    now = utcnow()
    if obj is None:
        obj = MediaObject(
            owner_id=caller.owner_id,
            sha256=image.sha256,
            content_type=image.content_type,
            byte_size=len(image.data),
            width=image.width,
            height=image.height,
            storage_path=base,
            thumbnail_path=f"{base}.thumb.webp",
            medium_path=f"{base}.medium.webp",
            created_at=now,
        )
        session.add(obj)
        await session.flush()
    elif obj.medium_path is None:
        obj.medium_path = f"{base}.medium.webp"
        session.add(obj)
        await session.flush()
    ref = MediaRef(
        owner_id=caller.owner_id,
        space_id=caller.space_id,
        app=app,
        media_object_id=obj.id,
        created_at=now,
    )
    session.add(ref)
    await session.flush()
    return media_from_rows(obj, ref)


def not_revoked() -> ColumnElement[bool]:
    """True for a media id that may still be used. An upload (`me`) is revoked once an
    image that held it was deleted and no live image holds it; other apps' media are
    never held by images and live as long as their reference row."""
    # One NOT EXISTS (an anti-join on ix_me_image_media_ref), not an OR of EXISTS, which
    # PostgreSQL may answer by hashing every deleted image on each request.
    deleted = MeImage.__table__.alias("deleted_holder")  # type: ignore[attr-defined]
    live = MeImage.__table__.alias("live_holder")  # type: ignore[attr-defined]
    return ~exists().where(
        deleted.c.media_ref_id == col(MediaRef.id),
        deleted.c.deleted_at.is_not(None),
        col(MediaRef.app) == APP_ME,
        # Correlated through the deleted row, the nearest enclosing FROM.
        ~exists().where(live.c.media_ref_id == deleted.c.media_ref_id, live.c.deleted_at.is_(None)),
    )


async def get_media(session: AsyncSession, caller: Caller, media_id: str) -> Media:
    """The caller's upload by id, in the caller's space only; another owner's id, another
    space's id, a revoked id and a generation output's id are all reported exactly like
    a missing one (only uploads become images: an output's URLs follow its generation)."""
    row = (
        await session.execute(
            select(MediaObject, MediaRef)
            .join(MediaRef, col(MediaRef.media_object_id) == col(MediaObject.id))
            .where(
                col(MediaRef.id) == media_id,
                col(MediaRef.owner_id) == caller.owner_id,
                col(MediaRef.space_id) == caller.space_id,
                col(MediaRef.app) == APP_ME,
                not_revoked(),
            )
        )
    ).first()
    if row is None:
        raise NotFound("Media")
    return media_from_rows(row[0], row[1])


async def find_servable_media(stores: Stores, media_id: str) -> Media | None:
    """The media a URL names, if it may still be served; for the media route, which then
    checks a signature bound to the owner (or a token of the owner and space).

    Read from the database on every request, never from memory, so a deletion or purge
    committed by any instance is seen by the next request on every instance:
    - `me` media (uploads) serve until an image that held them is deleted and no live
      image holds them; an upload not attached yet serves (its preview);
    - `picture` media (generation outputs) serve while their reference exists, which
      is as long as the owner's generations exist (purging deletes both together).
    """
    async with stores.db.session() as session:
        row = (
            await session.execute(
                select(MediaObject, MediaRef)
                .join(MediaRef, col(MediaRef.media_object_id) == col(MediaObject.id))
                .where(col(MediaRef.id) == media_id, not_revoked())
            )
        ).first()
    return None if row is None else media_from_rows(row[0], row[1])


# --- Serving variants ---------------------------------------------------------------------


def medium_fallback(limits: Limits) -> TransformSpec:
    """What `medium` means for media stored before the medium variant existed."""
    return TransformSpec(limits.medium_px, limits.medium_px, Fit.INSIDE, OutputFormat.WEBP)


def is_variant(name: str, limits: Limits) -> bool:
    return name in ("original", "thumbnail", "medium") or (
        TransformSpec.parse(name, max_px=limits.max_transform_px) is not None
    )


def variant_etag(media: Media, variant: str) -> str:
    """Stored content never changes under a key, so the content hash is the validator."""
    return f'"{media.sha256}"' if variant == "original" else f'"{media.sha256}.{variant}"'


async def read_variant(stores: Stores, media: Media, variant: str) -> Rendition | None:
    """The bytes of one variant; transforms are made on first use and kept."""
    etag = variant_etag(media, variant)
    if variant == "original":
        data = await stores.blobs.get(media.storage_path)
        return None if data is None else Rendition(data, media.content_type, etag)
    if variant == "thumbnail":
        data = await stores.blobs.get(media.thumbnail_path)
        return None if data is None else Rendition(data, "image/webp", etag)
    if variant == "medium" and media.medium_path is not None:
        data = await stores.blobs.get(media.medium_path)
        return None if data is None else Rendition(data, "image/webp", etag)
    spec = (
        medium_fallback(stores.limits)
        if variant == "medium"
        else TransformSpec.parse(variant, max_px=stores.limits.max_transform_px)
    )
    if spec is None:
        return None
    data = await _transformed(stores, media, spec)
    return None if data is None else Rendition(data, spec.content_type, etag)


async def _transformed(stores: Stores, media: Media, spec: TransformSpec) -> bytes | None:
    async with stores.db.session() as session:
        cached = (
            await session.execute(
                select(MediaVariant.storage_path).where(  # type: ignore[call-overload]
                    MediaVariant.media_object_id == media.object_id,
                    MediaVariant.spec == spec.name,
                )
            )
        ).scalar_one_or_none()
    if cached is not None:
        data = await stores.blobs.get(cached)
        if data is None:
            log.error("variant %s of media object %s has no blob", spec.name, media.object_id)
        return data
    original = await stores.blobs.get(media.storage_path)
    if original is None:
        return None
    data = await _in_worker(stores.limits, _transform, original, spec, stores.limits)
    key = f"{media.storage_path}.{spec.name}"
    await register_blobs(stores, media.owner_id, [key])
    await stores.blobs.put(key, data)
    try:
        async with stores.db.transaction() as session:
            await lock_owner(session, media.owner_id, bump=False)
            still_there = await session.get(MediaObject, media.object_id)
            if still_there is not None:
                await _claim_blobs(session, [key])
                session.add(
                    MediaVariant(
                        media_object_id=media.object_id,
                        spec=spec.name,
                        storage_path=key,
                        content_type=spec.content_type,
                        byte_size=len(data),
                        created_at=utcnow(),
                    )
                )
                await session.flush()
    except (_RegistrationLost, IntegrityError):
        # Another request cached the same variant, or the collector got here first;
        # either way this response still has its bytes and nothing is left untracked.
        pass
    return data
