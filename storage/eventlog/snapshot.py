"""The image as a change left it, logged with the event: encoded and decoded here only.

A snapshot is JSON in `me_image_event.image`: the image row's plain columns, its media,
and the row's own ciphertext of every encrypted field the table declares
(`ME_IMAGE_ENCRYPTED`), base64 under the column's name. The ciphertexts stay bound to
the image row, so a snapshot opens exactly while the owner's data key exists; purging
an image forgets its snapshots, purging an owner shreds the key.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.crypto import DecryptionError
from storage.encrypted import EncryptedColumns
from storage.keys import FieldVault
from storage.tables import (
    ME_IMAGE_ENCRYPTED,
    MediaObject,
    MediaRef,
    MeImage,
    MeImageEncrypted,
    MeImageEvent,
    aware,
)

log = logging.getLogger("meimages.events")


@dataclass(frozen=True)
class MediaState:
    id: str
    content_type: str
    byte_size: int
    width: int
    height: int
    storage_path: str
    thumbnail_path: str
    created_at: datetime
    # Absent from snapshots written before media objects were shared.
    sha256: str = ""
    object_id: str = ""
    medium_path: str | None = None


@dataclass(frozen=True)
class ImageState:
    kind: str
    # None when the fields no longer decrypt (the owner's key was destroyed).
    encrypted: MeImageEncrypted | None
    ai_reference: bool
    show_in_profile: bool
    primary_for: str | None
    created_at: datetime
    updated_at: datetime
    media: MediaState
    # Absent from snapshots written before timed consent (migration 0009_consent_ledger).
    ai_reference_until: datetime | None = None


async def capture(
    session: AsyncSession, image_ids: Collection[str], *, live_only: bool
) -> dict[str, dict[str, Any]]:
    """The stored state of images with their media, encoded; encrypted fields stay sealed."""
    if not image_ids:
        return {}
    conditions = [col(MeImage.id).in_(list(image_ids))]
    if live_only:
        conditions.append(col(MeImage.deleted_at).is_(None))
    image_columns = MeImage.__table__.c  # type: ignore[attr-defined]
    query: Select[*tuple[Any, ...]] = (
        select(
            col(MeImage.id),
            col(MeImage.kind),
            *(image_columns[field.column] for field in ME_IMAGE_ENCRYPTED),
            col(MeImage.ai_reference),
            col(MeImage.ai_reference_until),
            col(MeImage.show_in_profile),
            col(MeImage.primary_for),
            col(MeImage.created_at),
            col(MeImage.updated_at),
            col(MediaRef.id).label("media_id"),
            col(MediaRef.created_at).label("media_created_at"),
            col(MediaObject.id).label("object_id"),
            col(MediaObject.sha256),
            col(MediaObject.medium_path),
            col(MediaObject.content_type),
            col(MediaObject.byte_size),
            col(MediaObject.width),
            col(MediaObject.height),
            col(MediaObject.storage_path),
            col(MediaObject.thumbnail_path),
        )
        .join(MediaRef, col(MediaRef.id) == col(MeImage.media_ref_id))
        .join(MediaObject, col(MediaObject.id) == col(MediaRef.media_object_id))
        .where(*conditions)
    )
    rows = (await session.execute(query)).mappings().all()
    return {r["id"]: _encoded(dict(r)) for r in rows}


def encode(
    image: MeImage,
    media: MediaObject,
    ref: MediaRef,
    declared: EncryptedColumns[Any] = ME_IMAGE_ENCRYPTED,
) -> dict[str, Any]:
    """The state of an image the caller holds with its media, encoded as `capture` would
    read it back after the change: a writer that has the rows saves the query.
    (`declared`: the image's encrypted fields; another declaration only in tests.)"""
    values = {
        **{name: getattr(image, name) for name in _IMAGE_FIELDS},
        **{field.column: getattr(image, field.column) for field in declared},
        **{name: getattr(media, name) for name in _MEDIA_FIELDS},
        "media_id": ref.id,
        "media_created_at": ref.created_at,
        "object_id": media.id,
    }
    return _encoded(values, declared)


_IMAGE_FIELDS = (
    "kind",
    "ai_reference",
    "ai_reference_until",
    "show_in_profile",
    "primary_for",
    "created_at",
    "updated_at",
)
_MEDIA_FIELDS = (
    "sha256",
    "medium_path",
    "content_type",
    "byte_size",
    "width",
    "height",
    "storage_path",
    "thumbnail_path",
)


def _encoded(
    row: Mapping[str, Any], declared: EncryptedColumns[Any] = ME_IMAGE_ENCRYPTED
) -> dict[str, Any]:
    return {
        "kind": row["kind"],
        **{field.column: _b64(row[field.column]) for field in declared},
        "ai_reference": row["ai_reference"],
        "ai_reference_until": (
            aware(until).isoformat() if (until := row["ai_reference_until"]) else None
        ),
        "show_in_profile": row["show_in_profile"],
        "primary_for": row["primary_for"],
        "created_at": aware(row["created_at"]).isoformat(),
        "updated_at": aware(row["updated_at"]).isoformat(),
        "media": {
            "id": row["media_id"],
            "content_type": row["content_type"],
            "byte_size": row["byte_size"],
            "width": row["width"],
            "height": row["height"],
            "storage_path": row["storage_path"],
            "thumbnail_path": row["thumbnail_path"],
            "medium_path": row["medium_path"],
            "object_id": row["object_id"],
            "sha256": row["sha256"],
            "created_at": aware(row["media_created_at"]).isoformat(),
        },
    }


async def decode(
    session: AsyncSession,
    vault: FieldVault,
    data: Mapping[str, Any],
    *,
    owner_id: str,
    image_id: str,
    declared: EncryptedColumns[Any] = ME_IMAGE_ENCRYPTED,
) -> ImageState:
    """A snapshot of image `image_id` of `owner_id`, with its encrypted fields opened."""
    ciphertexts = {field.name: _unb64(data.get(field.column)) for field in declared}
    opened: MeImageEncrypted | None
    try:
        opened = await vault.open(
            session, declared, owner_id=owner_id, row_id=image_id, ciphertexts=ciphertexts
        )
    except DecryptionError:
        # The owner's key is gone (crypto-shredded): the event stays, its image cannot.
        log.warning("a snapshot of image %s cannot be decrypted", image_id)
        opened = None
    media = data["media"]
    return ImageState(
        kind=data["kind"],
        encrypted=opened,
        ai_reference=bool(data["ai_reference"]),
        show_in_profile=bool(data["show_in_profile"]),
        primary_for=data["primary_for"] or None,
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        ai_reference_until=(
            datetime.fromisoformat(until) if (until := data.get("ai_reference_until")) else None
        ),
        media=MediaState(
            id=media["id"],
            content_type=media["content_type"],
            byte_size=media["byte_size"],
            width=media["width"],
            height=media["height"],
            storage_path=media["storage_path"],
            thumbnail_path=media["thumbnail_path"],
            created_at=datetime.fromisoformat(media["created_at"]),
            sha256=media.get("sha256") or "",
            object_id=media.get("object_id") or "",
            medium_path=media.get("medium_path"),
        ),
    )


async def forget(session: AsyncSession, image_ids: Collection[str]) -> None:
    """Drop the logged states of purged images (their ciphertexts among them); their
    events stay, showing only what the event itself recorded."""
    if image_ids:
        await session.execute(
            update(MeImageEvent)
            .where(col(MeImageEvent.image_id).in_(list(image_ids)))
            .values(image=null())
        )


def _b64(blob: bytes | None) -> str | None:
    return base64.b64encode(blob).decode() if blob is not None else None


def _unb64(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value is not None else None
