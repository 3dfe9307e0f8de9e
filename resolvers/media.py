"""Media: turning uploaded bytes into stored, private, metadata-free images.

The type comes from decoding the bytes, never from the client's header or filename.
Only the re-encoded image (orientation applied, EXIF/GPS/XMP dropped) is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.errors import InvalidInput, NotFound, TooLarge, UnsupportedMediaType
from resolvers.owners import ensure_owner
from resolvers.stores import Caller, Limits, Stores
from storage.tables import MediaObject, MediaRef, utcnow

APP_ME = "me"
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes
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


def _encode(data: bytes, limits: Limits) -> EncodedImage:
    with warnings.catch_warnings():
        # A decompression bomb is an error, not a warning.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img: Image.Image = Image.open(io.BytesIO(data), formats=list(_FORMATS))
            fmt = img.format or ""
            if fmt not in _FORMATS:
                raise UnsupportedMediaType("only JPEG, PNG and WebP images are accepted")
            if img.width * img.height > limits.max_image_pixels:
                raise TooLarge(
                    f"image has more than {limits.max_image_pixels} pixels",
                    limits.max_upload_bytes,
                )
            if getattr(img, "n_frames", 1) > 1:
                raise UnsupportedMediaType("animated or multi-frame images are not accepted")
            img.load()
        except UnidentifiedImageError as exc:
            raise UnsupportedMediaType(
                "the file is not a decodable JPEG, PNG or WebP image"
            ) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge("image has too many pixels", limits.max_upload_bytes) from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise UnsupportedMediaType("the image data is truncated or corrupt") from exc
    img = ImageOps.exif_transpose(img)
    out = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(out, "JPEG", quality=92, optimize=True)
    elif fmt == "PNG":
        img.save(out, "PNG")
    else:
        img.save(out, "WEBP", quality=90, method=4)
    encoded = out.getvalue()
    thumb = img.copy()
    thumb.thumbnail((limits.thumbnail_px, limits.thumbnail_px))
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "A" in thumb.getbands() else "RGB")
    tout = io.BytesIO()
    thumb.save(tout, "WEBP", quality=80)
    return EncodedImage(
        data=encoded,
        content_type=_FORMATS[fmt],
        width=img.width,
        height=img.height,
        thumbnail=tout.getvalue(),
        sha256=hashlib.sha256(encoded).hexdigest(),
    )


async def encode_upload(data: bytes, limits: Limits) -> EncodedImage:
    if len(data) > limits.max_upload_bytes:
        raise TooLarge(
            f"files are limited to {limits.max_upload_bytes} bytes", limits.max_upload_bytes
        )
    if not data:
        raise InvalidInput("the file is empty", field="file")
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_encode, data, limits), timeout=limits.decode_timeout_s
        )
    except TimeoutError as exc:
        raise UnsupportedMediaType("the image took too long to decode") from exc


def _owner_prefix(owner_id: str) -> str:
    # Owner ids are not path-safe; their digest is.
    return hashlib.sha256(owner_id.encode()).hexdigest()[:24]


def _media(obj: MediaObject, ref: MediaRef) -> Media:
    return Media(
        id=ref.id,
        owner_id=ref.owner_id,
        content_type=obj.content_type,
        byte_size=obj.byte_size,
        width=obj.width,
        height=obj.height,
        storage_path=obj.storage_path,
        thumbnail_path=obj.thumbnail_path,
        created_at=ref.created_at,
    )


async def store_image(stores: Stores, caller: Caller, data: bytes, app: str = APP_ME) -> Media:
    """Validate, re-encode and store an upload; returns the caller's media reference."""
    image = await encode_upload(data, stores.limits)
    prefix = f"o/{_owner_prefix(caller.owner_id)}/{image.sha256[:2]}"
    storage_path = f"{prefix}/{image.sha256}"
    thumbnail_path = f"{prefix}/{image.sha256}.thumb.webp"
    # Bytes first, row second: a committed row never points at a missing blob.
    await stores.blobs.put(storage_path, image.data)
    await stores.blobs.put(thumbnail_path, image.thumbnail)
    for _attempt in range(3):
        try:
            async with stores.db.transaction() as session:
                await ensure_owner(session, caller.owner_id)
                return await _link(session, caller, image, app, storage_path, thumbnail_path)
        except IntegrityError:
            # A concurrent upload of the same bytes won the insert; read its rows.
            continue
    raise RuntimeError("could not record media after concurrent inserts")


async def _link(
    session: AsyncSession,
    caller: Caller,
    image: EncodedImage,
    app: str,
    storage_path: str,
    thumbnail_path: str,
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
            storage_path=storage_path,
            thumbnail_path=thumbnail_path,
            created_at=now,
        )
        session.add(obj)
        await session.flush()
    ref = (
        await session.execute(
            select(MediaRef).where(
                MediaRef.owner_id == caller.owner_id,  # type: ignore[arg-type]
                MediaRef.app == app,  # type: ignore[arg-type]
                MediaRef.media_object_id == obj.id,  # type: ignore[arg-type]
            )
        )
    ).scalar_one_or_none()
    if ref is None:
        ref = MediaRef(owner_id=caller.owner_id, app=app, media_object_id=obj.id, created_at=now)
        session.add(ref)
        await session.flush()
    return _media(obj, ref)


async def get_media(session: AsyncSession, owner_id: str, media_id: str) -> Media:
    """The owner's media by id; another owner's id is reported exactly like a missing one."""
    row = (
        await session.execute(
            select(MediaObject, MediaRef)
            .join(MediaRef, MediaRef.media_object_id == MediaObject.id)  # type: ignore[arg-type]
            .where(MediaRef.id == media_id, MediaRef.owner_id == owner_id)  # type: ignore[arg-type]
        )
    ).first()
    if row is None:
        raise NotFound("Media")
    return _media(row[0], row[1])


async def find_media_any_owner(stores: Stores, media_id: str) -> Media | None:
    """For the media route, which checks a signature bound to the owner before serving."""
    async with stores.db.session() as session:
        row = (
            await session.execute(
                select(MediaObject, MediaRef)
                .join(MediaRef, MediaRef.media_object_id == MediaObject.id)  # type: ignore[arg-type]
                .where(MediaRef.id == media_id)  # type: ignore[arg-type]
            )
        ).first()
    return None if row is None else _media(row[0], row[1])
