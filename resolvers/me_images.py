"""The me-images pool: list, create, update, opt in, claim slots, delete.

Every write runs in one transaction that first locks the owner row, so one owner's
changes (and their events) are serialized; the database's partial unique index on
(owner, space, slot) of live rows is the last word on the slot invariant.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.errors import InvalidInput, NotFound
from resolvers.media import Media, get_media, media_from_rows
from resolvers.owners import data_version, lock_owner
from resolvers.stores import Caller, Stores
from storage.crypto import DecryptionError
from storage.eventlog.log import append_event
from storage.eventlog.payload import EventPayload
from storage.eventlog.payload import EventType as EventType  # declared with the log
from storage.tables import (
    ME_IMAGE_ENCRYPTED,
    MediaObject,
    MediaRef,
    MeImage,
    MeImageEncrypted,
    Owner,
    new_id,
    utcnow,
)

log = logging.getLogger("meimages.pool")

# The partial unique index that allows one live image per media id (storage/tables.py).
LIVE_MEDIA_INDEX = "uq_me_image_live_media"
# Names of the encrypted fields, in declaration order (see MeImageEncrypted).
ENCRYPTED_FIELDS = ME_IMAGE_ENCRYPTED.names()


class Kind(enum.StrEnum):
    FACE = "face"
    FULLBODY = "fullbody"
    HALFBODY = "halfbody"
    HANDS = "hands"
    REFERENCE = "reference"


class Slot(enum.StrEnum):
    AVATAR = "avatar"
    FACE_REF = "face-ref"
    BODY_REF = "body-ref"


@dataclass(frozen=True)
class Image:
    """A MeImage with its encrypted fields decrypted."""

    id: str
    owner_id: str
    space_id: str
    kind: Kind
    encrypted: MeImageEncrypted
    media: Media
    ai_reference: bool
    show_in_profile: bool
    primary_for: Slot | None
    created_at: datetime
    updated_at: datetime


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()


@dataclass
class ImageChanges:
    """A partial update; fields left as UNCHANGED (or absent from `encrypted`) keep their value."""

    # New values of encrypted fields by name (see clean_encrypted).
    encrypted: dict[str, object] = field(default_factory=dict)
    kind: Kind | _Unchanged = field(default_factory=lambda: UNCHANGED)
    show_in_profile: bool | _Unchanged = field(default_factory=lambda: UNCHANGED)


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we write is UTC.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def clean_encrypted(values: Mapping[str, object], *, partial: bool = False) -> dict[str, object]:
    """Trimmed, bounded values of the encrypted fields (as `MeImageEncrypted` declares
    them), by name. Unless `partial`, fields not given take their default."""
    cleaned: dict[str, object] = {}
    for declared in ME_IMAGE_ENCRYPTED:
        if declared.name not in values:
            if not partial:
                cleaned[declared.name] = [] if declared.is_list else None
            continue
        value = values[declared.name]
        if declared.is_list:
            cleaned[declared.name] = _clean_list(
                declared.name, value, declared.max_chars, declared.max_items or 0
            )
        else:
            cleaned[declared.name] = _clean_text(declared.name, value, declared.max_chars)
    return cleaned


def _clean_text(name: str, value: object, max_chars: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", field=name)
    value = value.strip()
    if len(value) > max_chars:
        raise InvalidInput(f"{name} is longer than {max_chars} characters", field=name)
    return value or None


def _clean_list(name: str, value: object, max_chars: int, max_items: int) -> list[str]:
    # A null list clears it.
    if not isinstance(value, Sequence) or isinstance(value, str):
        if value is None:
            return []
        raise InvalidInput(f"{name} must be a list of text", field=name)
    cleaned: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise InvalidInput(f"{name} must be a list of text", field=name)
        item = item.strip()
        if not item:
            continue
        if len(item) > max_chars:
            raise InvalidInput(
                f"an entry of {name} is longer than {max_chars} characters", field=name
            )
        if item not in cleaned:
            cleaned.append(item)
            # Checked as we go: the membership test above must never scan a huge list.
            if len(cleaned) > max_items:
                raise InvalidInput(f"at most {max_items} {name}", field=name)
    return cleaned


def _live(caller: Caller) -> Select[MeImage, MediaObject, MediaRef]:
    return (
        select(MeImage, MediaObject, MediaRef)
        .join(MediaRef, MediaRef.id == MeImage.media_ref_id)  # type: ignore[arg-type]
        .join(MediaObject, MediaObject.id == MediaRef.media_object_id)  # type: ignore[arg-type]
        .where(
            MeImage.owner_id == caller.owner_id,  # type: ignore[arg-type]
            MeImage.space_id == caller.space_id,  # type: ignore[arg-type]
            MeImage.deleted_at.is_(None),  # type: ignore[union-attr]
        )
    )


async def _to_image(
    stores: Stores, session: AsyncSession, row: MeImage, obj: MediaObject, ref: MediaRef
) -> Image:
    try:
        encrypted = await stores.vault.open_row(session, ME_IMAGE_ENCRYPTED, row)
    except DecryptionError:
        # One unreadable row (tampered, moved, or its key destroyed) must not take the
        # whole pool down: it shows without its encrypted fields, and the operator is told.
        log.error("the encrypted fields of image %s do not decrypt; showing them empty", row.id)
        encrypted = ME_IMAGE_ENCRYPTED.empty()
    return Image(
        id=row.id,
        owner_id=row.owner_id,
        space_id=row.space_id,
        kind=Kind(row.kind),
        encrypted=encrypted,
        media=media_from_rows(obj, ref),
        ai_reference=row.ai_reference,
        show_in_profile=row.show_in_profile,
        primary_for=Slot(row.primary_for) if row.primary_for else None,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


async def _images(
    stores: Stores, session: AsyncSession, query: Select[MeImage, MediaObject, MediaRef]
) -> list[Image]:
    rows = (await session.execute(query)).all()
    return [await _to_image(stores, session, r[0], r[1], r[2]) for r in rows]


@dataclass(frozen=True)
class PoolSnapshot:
    """The live images of one owner's pool in one space, as of one data version."""

    version: int
    images: tuple[Image, ...]
    ai_enabled: bool


async def pool_snapshot(stores: Stores, caller: Caller) -> PoolSnapshot:
    """The caller's pool, read once per data version and then served from memory.

    The version is taken before the rows are read: a write landing in between makes the
    snapshot newer than its version says, never older, so it is never stale.
    """
    version = await data_version(stores, caller)
    key = (caller.owner_id, caller.space_id)
    cached: PoolSnapshot | None = stores.pool_snapshots.get(key)
    if cached is not None and cached.version == version:
        stores.pool_snapshots.move_to_end(key)
        return cached
    query = _live(caller).order_by(MeImage.created_at, MeImage.id)  # type: ignore[arg-type]
    async with stores.db.session() as session:
        images = await _images(stores, session, query)
        owner = await session.get(Owner, caller.owner_id)
    snapshot = PoolSnapshot(
        version, tuple(images), True if owner is None else owner.ai_uses_reference_images
    )
    stores.pool_snapshots[key] = snapshot
    if len(stores.pool_snapshots) > stores.limits.pool_snapshots:
        stores.pool_snapshots.popitem(last=False)
    return snapshot


async def list_images(stores: Stores, caller: Caller, kind: Kind | None = None) -> list[Image]:
    snapshot = await pool_snapshot(stores, caller)
    return [i for i in snapshot.images if kind is None or i.kind is kind]


async def reference_images(stores: Stores, caller: Caller, kind: Kind | None = None) -> list[Image]:
    """Images AI may use: live, opted in, and only while the owner's kill switch is on."""
    snapshot = await pool_snapshot(stores, caller)
    if not snapshot.ai_enabled:
        return []
    return [i for i in snapshot.images if i.ai_reference and (kind is None or i.kind is kind)]


async def image_by_primary(stores: Stores, caller: Caller, slot: Slot) -> Image | None:
    snapshot = await pool_snapshot(stores, caller)
    return next((i for i in snapshot.images if i.primary_for is slot), None)


async def get_image(stores: Stores, caller: Caller, image_id: str) -> Image:
    snapshot = await pool_snapshot(stores, caller)
    image = next((i for i in snapshot.images if i.id == image_id), None)
    if image is None:
        raise NotFound()
    return image


async def _get(stores: Stores, session: AsyncSession, caller: Caller, image_id: str) -> Image:
    images = await _images(stores, session, _live(caller).where(MeImage.id == image_id))  # type: ignore[arg-type]
    if not images:
        raise NotFound()
    return images[0]


async def _locked_row(session: AsyncSession, caller: Caller, image_id: str) -> MeImage:
    row = (
        await session.execute(
            select(MeImage).where(
                MeImage.id == image_id,  # type: ignore[arg-type]
                MeImage.owner_id == caller.owner_id,  # type: ignore[arg-type]
                MeImage.space_id == caller.space_id,  # type: ignore[arg-type]
                MeImage.deleted_at.is_(None),  # type: ignore[union-attr]
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row


async def _event(
    session: AsyncSession, caller: Caller, type: EventType, image_id: str, **payload: Any
) -> None:
    await append_event(
        session,
        owner_id=caller.owner_id,
        space_id=caller.space_id,
        type=type,
        image_id=image_id,
        payload=EventPayload(**payload),
    )


async def create_image(
    stores: Stores,
    caller: Caller,
    *,
    media_id: str,
    kind: Kind,
    encrypted: Mapping[str, object] | None = None,
    show_in_profile: bool = True,
    ai_reference: bool = False,
    primary_for: Slot | None = None,
) -> Image:
    """Create a MeImage for an upload of the caller's space. AI use stays off unless asked.

    `encrypted`: values of the encrypted fields by name (the rest take their default).
    One image per upload: a media id that already has a live image is refused with
    `InvalidInput` (upload the file again for a second image of the same photo). The
    owner lock serializes creators; the partial unique index on live rows is the last
    word, and its violation maps to the same error.
    """
    values = clean_encrypted(encrypted or {})
    try:
        async with stores.db.transaction() as session:
            await lock_owner(session, caller.owner_id)
            image = await _insert_image(
                stores,
                session,
                caller,
                media_id=media_id,
                kind=kind,
                encrypted=values,
                show_in_profile=show_in_profile,
                ai_reference=ai_reference,
                primary_for=primary_for,
            )
    except IntegrityError as exc:
        if not _is_live_media_conflict(exc):
            raise
        raise MediaInUse() from None
    stores.notifier.notify(caller.owner_id)
    return image


class MediaInUse(InvalidInput):
    """The media id already has a live image: one image per upload."""

    def __init__(self) -> None:
        super().__init__(
            "this upload already has an image; each upload becomes one image "
            "(upload the file again to add another image of it)",
            field="mediaId",
        )


def _is_live_media_conflict(exc: IntegrityError) -> bool:
    # PostgreSQL names the index; SQLite names the column of the unique index.
    text = str(exc.orig)
    return LIVE_MEDIA_INDEX in text or "me_image.media_ref_id" in text


async def _insert_image(
    stores: Stores,
    session: AsyncSession,
    caller: Caller,
    *,
    media_id: str,
    kind: Kind,
    encrypted: Mapping[str, object],
    show_in_profile: bool,
    ai_reference: bool,
    primary_for: Slot | None,
) -> Image:
    media = await get_media(session, caller, media_id)
    now = utcnow()
    image_id = new_id()
    row = MeImage(
        id=image_id,
        owner_id=caller.owner_id,
        space_id=caller.space_id,
        kind=kind.value,
        media_ref_id=media.id,
        ai_reference=ai_reference,
        show_in_profile=show_in_profile,
        created_at=now,
        updated_at=now,
    )
    await stores.vault.seal(session, ME_IMAGE_ENCRYPTED, row, encrypted)
    session.add(row)
    # The unique index on live rows refuses a second live image of this media id here.
    await session.flush()
    await _event(session, caller, EventType.ADDED, image_id, kind=kind.value)
    if ai_reference:
        await _event(session, caller, EventType.AI_REFERENCE_TOGGLED, image_id, enabled=True)
    if primary_for is not None:
        await _claim(session, caller, row, primary_for)
    return await _get(stores, session, caller, image_id)


async def update_image(
    stores: Stores, caller: Caller, image_id: str, changes: ImageChanges
) -> Image:
    encrypted = clean_encrypted(changes.encrypted, partial=True)
    async with stores.db.transaction() as session:
        await lock_owner(session, caller.owner_id)
        row = await _locked_row(session, caller, image_id)
        await stores.vault.seal(session, ME_IMAGE_ENCRYPTED, row, encrypted)
        changed: list[str] = list(encrypted)
        if not isinstance(changes.kind, _Unchanged) and changes.kind.value != row.kind:
            row.kind = changes.kind.value
            changed.append("kind")
        if not isinstance(changes.show_in_profile, _Unchanged):
            row.show_in_profile = changes.show_in_profile
            changed.append("showInProfile")
        if changed:
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await _event(session, caller, EventType.UPDATED, image_id, fields=tuple(changed))
        image = await _get(stores, session, caller, image_id)
    if changed:
        stores.notifier.notify(caller.owner_id)
    return image


async def set_ai_reference(stores: Stores, caller: Caller, image_id: str, enabled: bool) -> Image:
    """The per-image consent toggle; its own event because it is the privacy-critical one."""
    async with stores.db.transaction() as session:
        await lock_owner(session, caller.owner_id)
        row = await _locked_row(session, caller, image_id)
        changed = row.ai_reference != enabled
        if changed:
            row.ai_reference = enabled
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await _event(session, caller, EventType.AI_REFERENCE_TOGGLED, image_id, enabled=enabled)
        image = await _get(stores, session, caller, image_id)
    if changed:
        stores.notifier.notify(caller.owner_id)
    return image


async def _claim(session: AsyncSession, caller: Caller, row: MeImage, slot: Slot) -> None:
    holder = (
        await session.execute(
            select(MeImage.id).where(  # type: ignore[call-overload]
                MeImage.owner_id == caller.owner_id,
                MeImage.space_id == caller.space_id,
                MeImage.primary_for == slot.value,
                MeImage.deleted_at.is_(None),  # type: ignore[union-attr]
                MeImage.id != row.id,
            )
        )
    ).scalar_one_or_none()
    now = utcnow()
    if holder is not None:
        # Clear the previous holder first so the unique index never sees two holders.
        await session.execute(
            update(MeImage).where(MeImage.id == holder).values(primary_for=None, updated_at=now)
        )
        await _event(session, caller, EventType.PRIMARY_CHANGED, holder, previous_slot=slot.value)
    previous = row.primary_for
    row.primary_for = slot.value
    row.updated_at = now
    session.add(row)
    await session.flush()
    await _event(
        session, caller, EventType.PRIMARY_CHANGED, row.id, slot=slot.value, previous_slot=previous
    )


async def set_primary(stores: Stores, caller: Caller, image_id: str, slot: Slot | None) -> Image:
    """Claim `slot` for the image (the previous holder loses it), or clear the image's slot."""
    async with stores.db.transaction() as session:
        await lock_owner(session, caller.owner_id)
        row = await _locked_row(session, caller, image_id)
        changed = row.primary_for != (slot.value if slot else None)
        if changed and slot is not None:
            await _claim(session, caller, row, slot)
        elif changed:
            previous = row.primary_for
            row.primary_for = None
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await _event(
                session, caller, EventType.PRIMARY_CHANGED, image_id, previous_slot=previous
            )
        image = await _get(stores, session, caller, image_id)
    if changed:
        stores.notifier.notify(caller.owner_id)
    return image


async def delete_image(stores: Stores, caller: Caller, image_id: str) -> str:
    """Soft delete: the row keeps its data for a later purge but leaves every query and slot."""
    async with stores.db.transaction() as session:
        await lock_owner(session, caller.owner_id)
        row = await _locked_row(session, caller, image_id)
        now = utcnow()
        previous = row.primary_for
        row.deleted_at = now
        row.primary_for = None
        row.updated_at = now
        session.add(row)
        await session.flush()
        await _event(
            session, caller, EventType.DELETED, image_id, kind=row.kind, previous_slot=previous
        )
    stores.notifier.notify(caller.owner_id)
    return image_id
