"""The me-images pool: list, create, update, opt in, claim slots, delete.

Every write runs in one transaction that first locks the owner row, so one owner's
changes (and their events) are serialized; the database's partial unique index on
(owner, space, slot) of live rows is the last word on the slot invariant.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from resolvers import paging
from resolvers.errors import InvalidInput, NotFound
from resolvers.media.uploads import Media, media_for_new_image, media_from_rows, store_image
from resolvers.pool import consent
from resolvers.pool.cap import check_room, ensure_room
from resolvers.pool.owners import data_version
from resolvers.stores import Caller, Stores
from storage.crypto import DecryptionError
from storage.encrypted import EncryptedColumns
from storage.eventlog import snapshot
from storage.eventlog.payload import EventPayload
from storage.eventlog.payload import EventType as EventType  # declared with the log
from storage.repositories import UnitOfWork
from storage.repositories.pool import Contender, MediaAlreadyAttached, StoredImage
from storage.repositories.uses import UseTotals
from storage.tables import (
    ME_IMAGE_ENCRYPTED,
    MeImage,
    MeImageEncrypted,
    aware,
    new_id,
    utcnow,
)

log = logging.getLogger("meimages.pool")

# The encrypted fields of an image as storage declares them (see MeImageEncrypted), and
# their names in declaration order: every door shows and takes each of them.
ENCRYPTED: EncryptedColumns[MeImageEncrypted] = ME_IMAGE_ENCRYPTED
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
    # When the opt-in lapses by itself; None: until it is turned off.
    ai_reference_until: datetime | None = None
    # From the usage ledger: how often the image was sent to a provider, and when last.
    use_count: int = 0
    last_used_at: datetime | None = None


class Order(enum.StrEnum):
    """The order of image lists: newest first unless asked otherwise (the source app's)."""

    NEWEST_FIRST = "newest-first"
    OLDEST_FIRST = "oldest-first"


def _ordered(images: Sequence[Image], order: Order) -> list[Image]:
    # Snapshots hold the pool oldest first (created_at, id): newest first is its reverse.
    return list(reversed(images)) if order is Order.NEWEST_FIRST else list(images)


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


def clean_encrypted(
    values: Mapping[str, object],
    *,
    partial: bool = False,
    declared: EncryptedColumns[Any] = ME_IMAGE_ENCRYPTED,
) -> dict[str, object]:
    """Trimmed, bounded values of the encrypted fields (as `MeImageEncrypted` declares
    them), by name. Unless `partial`, fields not given take their default."""
    cleaned: dict[str, object] = {}
    for field_ in declared:
        if field_.name not in values:
            if not partial:
                cleaned[field_.name] = [] if field_.is_list else None
            continue
        value = values[field_.name]
        if field_.is_list:
            cleaned[field_.name] = _clean_list(
                field_.name, value, field_.max_chars, field_.max_items or 0
            )
        else:
            cleaned[field_.name] = _clean_text(field_.name, value, field_.max_chars)
    return cleaned


def encrypted_json(
    values: object, declared: EncryptedColumns[Any] = ME_IMAGE_ENCRYPTED
) -> dict[str, Any]:
    """Every declared encrypted field of `values` (their plaintext dataclass) as JSON
    values by name: what an export writes and the MCP answer shows, so a new field is
    in both as declared."""
    return {
        f.name: list(getattr(values, f.name)) if f.is_list else getattr(values, f.name)
        for f in declared
    }


def encrypted_from_json(
    item: Mapping[str, object], declared: EncryptedColumns[Any] = ME_IMAGE_ENCRYPTED
) -> dict[str, object]:
    """The declared encrypted fields of an imported entry, cleaned as any input is (a
    field the entry lacks takes its default): the reverse of `encrypted_json`."""
    given = {f.name: item[f.name] for f in declared if f.name in item}
    return clean_encrypted(given, declared=declared)


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


async def _to_image(tx: UnitOfWork, stored: StoredImage, uses: Mapping[str, UseTotals]) -> Image:
    """The image with its fields decrypted and its totals from the usage ledger (`uses`,
    by image id)."""
    row, obj, ref = stored
    sent = uses.get(row.id)
    try:
        encrypted = await tx.pool.open(row)
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
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        ai_reference_until=aware(row.ai_reference_until) if row.ai_reference_until else None,
        use_count=sent.count if sent else 0,
        last_used_at=sent.last_used_at if sent else None,
    )


@dataclass(frozen=True)
class PoolSnapshot:
    """The live images of one owner's pool in one space, as of one data version."""

    version: int
    images: tuple[Image, ...]
    ai_enabled: bool
    # What the layers above make of each image (the API's view of it), by image id: made
    # once and kept while the snapshot serves reads of its version (its images never
    # change). Kept here, not on the images, which a view refers to: no reference cycle,
    # so a snapshot left behind is freed at once, without waiting for the cyclic GC.
    views: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


async def pool_snapshot(stores: Stores, caller: Caller) -> PoolSnapshot:
    """The caller's pool, read once per data version and then served from memory.

    The version is taken before the rows are read: a write landing in between makes the
    snapshot newer than its version says, never older, so it is never stale.
    """
    version = await data_version(stores, caller)
    key = (caller.owner_id, caller.space_id)
    cached = stores.caches.pool_snapshots.get(key)
    if isinstance(cached, PoolSnapshot) and cached.version == version:
        return cached
    async with stores.reading() as read:
        stored = await read.pool.live_images(caller.owner_id, caller.space_id)
        # Ledger rows are written under the owner lock, which bumps the version too.
        uses = await read.uses.totals_by_image(caller.owner_id, caller.space_id)
        images = [await _to_image(read, s, uses) for s in stored]
        owner = await read.owners.get(caller.owner_id)
    snapshot = PoolSnapshot(
        version, tuple(images), True if owner is None else owner.ai_uses_reference_images
    )
    snapshots = stores.caches.pool_snapshots
    snapshots.max_entries = stores.config.limits.pool_snapshots
    snapshots.put(key, snapshot, snapshot_bytes(snapshot))
    return snapshot


# A decoded pool's bytes, estimated: measured with tracemalloc over pools of 1 to 50
# images with labels and tags (tests/memory/test_estimates.py keeps these honest). An
# image is about 2,100 bytes, and about 550 more once a list read has made its view
# (`PoolSnapshot.views`): the estimate sits between.
SNAPSHOT_BYTES = 600
IMAGE_BYTES = 2400


def snapshot_bytes(snapshot: PoolSnapshot) -> int:
    return SNAPSHOT_BYTES + IMAGE_BYTES * len(snapshot.images)


async def list_images(
    stores: Stores, caller: Caller, kind: Kind | None = None, order: Order = Order.NEWEST_FIRST
) -> list[Image]:
    images, _views = await listed_images(stores, caller, kind, order)
    return images


async def listed_images(
    stores: Stores, caller: Caller, kind: Kind | None = None, order: Order = Order.NEWEST_FIRST
) -> tuple[list[Image], dict[str, Any]]:
    """`list_images`, and the memo of views of the snapshot they come from
    (`PoolSnapshot.views`)."""
    snapshot = await pool_snapshot(stores, caller)
    images = _ordered([i for i in snapshot.images if kind is None or i.kind is kind], order)
    return images, snapshot.views


async def reference_images(
    stores: Stores, caller: Caller, kind: Kind | None = None, order: Order = Order.NEWEST_FIRST
) -> list[Image]:
    """Images AI may use: live, opted in, and only while the owner's kill switch is on."""
    snapshot = await pool_snapshot(stores, caller)
    if not snapshot.ai_enabled:
        return []
    return _ordered(
        [i for i in snapshot.images if i.ai_reference and (kind is None or i.kind is kind)], order
    )


async def image_by_primary(stores: Stores, caller: Caller, slot: Slot) -> Image | None:
    snapshot = await pool_snapshot(stores, caller)
    return next((i for i in snapshot.images if i.primary_for is slot), None)


async def get_image(stores: Stores, caller: Caller, image_id: str) -> Image:
    snapshot = await pool_snapshot(stores, caller)
    image = next((i for i in snapshot.images if i.id == image_id), None)
    if image is None:
        raise NotFound()
    return image


async def image_uses(stores: Stores, caller: Caller, image: Image) -> Image:
    """The image with its current totals from the usage ledger (for images that come from
    elsewhere than the pool, such as an event's)."""
    async with stores.reading() as read:
        uses = await read.uses.totals_by_image(caller.owner_id, caller.space_id, image.id)
    sent = uses.get(image.id)
    if sent is None:
        return image
    return replace(image, use_count=sent.count, last_used_at=sent.last_used_at)


async def _uses_of(tx: UnitOfWork, caller: Caller, image_id: str) -> Mapping[str, UseTotals]:
    return await tx.uses.totals_by_image(caller.owner_id, caller.space_id, image_id)


async def _get(tx: UnitOfWork, caller: Caller, image_id: str) -> Image:
    stored = await tx.pool.live_image(caller.owner_id, caller.space_id, image_id)
    if stored is None:
        raise NotFound()
    return await _to_image(tx, stored, await _uses_of(tx, caller, image_id))


async def _locked(tx: UnitOfWork, caller: Caller, image_id: str) -> Contender:
    """The live image to change with its media and ledger totals, after taking the owner
    lock that serializes writers. Writers answer from these rows and log their state from
    them, so a change reads the image once."""
    await tx.owners.lock(caller.owner_id)
    return await _to_change(tx, caller, image_id)


async def _to_change(tx: UnitOfWork, caller: Caller, image_id: str) -> Contender:
    found = await tx.pool.image_to_change(caller.owner_id, caller.space_id, image_id)
    if found is None:
        raise NotFound()
    return found


def _totals(found: Contender) -> Mapping[str, UseTotals]:
    return {found.stored.row.id: found.uses} if found.uses else {}


async def _event(
    tx: UnitOfWork,
    caller: Caller,
    type: EventType,
    image_id: str,
    state: StoredImage | None = None,
    **payload: Any,
) -> None:
    """Log a change; `state`: the image as the change left it, if the caller holds it
    (its row already written), else it is read from the database."""
    fields = EventPayload(**payload)
    if state is None:
        await tx.events.append(caller.owner_id, caller.space_id, type, image_id, fields)
    else:
        encoded = snapshot.encode(*state)
        await tx.events.append(
            caller.owner_id, caller.space_id, type, image_id, fields, image=encoded
        )


@dataclass(frozen=True)
class NewImage:
    """What a new MeImage starts with; AI use stays off unless asked."""

    media_id: str
    kind: Kind
    encrypted: Mapping[str, object]
    show_in_profile: bool = True
    ai_reference: bool = False
    primary_for: Slot | None = None


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
    word, and its violation maps to the same error. A full pool raises `PoolFull`.
    """
    new = NewImage(
        media_id=media_id,
        kind=kind,
        encrypted=clean_encrypted(encrypted or {}),
        show_in_profile=show_in_profile,
        ai_reference=ai_reference,
        primary_for=primary_for,
    )
    return await _create(stores, caller, new)


async def upload_media(stores: Stores, caller: Caller, data: bytes) -> Media:
    """An upload into the caller's pool, the rule every door applies: refused before its
    bytes are processed when the pool is full, then validated, re-encoded and stored."""
    await ensure_room(stores, caller)
    return await store_image(stores, caller, data)


async def upload_image(
    stores: Stores,
    caller: Caller,
    data: bytes,
    *,
    kind: Kind,
    encrypted: Mapping[str, object] | None = None,
    show_in_profile: bool = True,
    primary_for: Slot | None = None,
) -> Image:
    """An upload and its MeImage in one call; the image's fields are checked before the
    upload is stored, so bad input costs no decoding."""
    new = NewImage(
        media_id="",
        kind=kind,
        encrypted=clean_encrypted(encrypted or {}),
        show_in_profile=show_in_profile,
        primary_for=primary_for,
    )
    stored = await upload_media(stores, caller, data)
    return await _create(stores, caller, replace(new, media_id=stored.id))


async def _create(stores: Stores, caller: Caller, new: NewImage) -> Image:
    try:
        async with stores.transaction() as tx:
            await tx.owners.lock(caller.owner_id)
            await check_room(tx, caller, stores.config.limits.pool_cap)
            image = await _insert_image(tx, caller, new)
    except MediaAlreadyAttached:
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


async def _insert_image(tx: UnitOfWork, caller: Caller, new: NewImage) -> Image:
    media = await media_for_new_image(tx, caller, new.media_id)
    row = await add_image(tx, caller, replace(new, media_id=media.id))
    if new.primary_for is not None:
        await _claim_slot(tx, caller, row.id, new.primary_for)
    return await _get(tx, caller, row.id)


async def add_image(
    tx: UnitOfWork,
    caller: Caller,
    new: NewImage,
    *,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> MeImage:
    """The row of a new image on `new.media_id` (a media id of the caller's space), with
    its events, in the caller's transaction under the owner lock: how every image enters
    a pool. Its times are now, unless given (an import keeps the archive's); its slot,
    if any, is the caller's to claim."""
    now = utcnow()
    row = MeImage(
        id=new_id(),
        owner_id=caller.owner_id,
        space_id=caller.space_id,
        kind=new.kind.value,
        media_ref_id=new.media_id,
        ai_reference=new.ai_reference,
        show_in_profile=new.show_in_profile,
        created_at=created_at or now,
        updated_at=updated_at or created_at or now,
    )
    await tx.pool.seal(row, new.encrypted)
    # The unique index on live rows refuses a second live image of this media id here.
    await tx.pool.save(row)
    await _event(tx, caller, EventType.ADDED, row.id, kind=new.kind.value)
    if new.ai_reference:
        await _event(tx, caller, EventType.AI_REFERENCE_TOGGLED, row.id, enabled=True)
    return row


async def update_image(
    stores: Stores, caller: Caller, image_id: str, changes: ImageChanges
) -> Image:
    encrypted = clean_encrypted(changes.encrypted, partial=True)
    async with stores.transaction() as tx:
        found = await _locked(tx, caller, image_id)
        stored = found.stored
        row = stored.row
        await tx.pool.seal(row, encrypted)
        changed: list[str] = list(encrypted)
        if not isinstance(changes.kind, _Unchanged) and changes.kind.value != row.kind:
            row.kind = changes.kind.value
            changed.append("kind")
        if not isinstance(changes.show_in_profile, _Unchanged):
            row.show_in_profile = changes.show_in_profile
            changed.append("show_in_profile")
        if changed:
            row.updated_at = utcnow()
            await tx.pool.save(row)
            await _event(tx, caller, EventType.UPDATED, image_id, stored, fields=tuple(changed))
        image = await _to_image(tx, stored, _totals(found))
    if changed:
        stores.notifier.notify(caller.owner_id)
    return image


async def set_ai_reference(
    stores: Stores,
    caller: Caller,
    image_id: str,
    enabled: bool,
    until: datetime | None = None,
) -> Image:
    """The per-image consent toggle; its own event because it is the privacy-critical one.

    With `until` the opt-in lapses by itself at that moment (see `resolvers.pool.consent`);
    without it, it lasts until turned off."""
    now = stores.clock.now()
    until = _valid_until(enabled, until, now)
    async with stores.transaction() as tx:
        lapses_at = await tx.owners.locked_lapse(caller.owner_id)
        lapsed = await consent.lapse_in(tx, caller.owner_id, lapses_at, now)
        found = await _to_change(tx, caller, image_id)
        stored = found.stored
        row = stored.row
        current = aware(row.ai_reference_until) if row.ai_reference_until else None
        changed = row.ai_reference != enabled or current != until
        if changed:
            await tx.pool.set_ai_reference(row, enabled, until, utcnow())
            await _event(
                tx, caller, EventType.AI_REFERENCE_TOGGLED, image_id, stored, enabled=enabled
            )
            if until is not None or current is not None:
                # Only a timed consent can move the owner's next lapse.
                await consent.remember_next_lapse(tx, caller.owner_id)
        image = await _to_image(tx, stored, _totals(found))
    if changed or lapsed:
        stores.notifier.notify(caller.owner_id)
    return image


def _valid_until(enabled: bool, until: datetime | None, now: datetime) -> datetime | None:
    if until is None:
        return None
    if not enabled:
        raise InvalidInput("until is only for enabled: true", field="until")
    # A DateTime without an offset is read as UTC, like every time the server writes.
    until = aware(until).astimezone(UTC)
    if until <= now:
        raise InvalidInput("until must be in the future", field="until")
    return until


async def _claim_slot(tx: UnitOfWork, caller: Caller, image_id: str, slot: Slot) -> None:
    """`slot` for the (just written) image `image_id`; the previous holder loses it."""
    contenders = await tx.pool.slot_contenders(
        caller.owner_id, caller.space_id, image_id, slot.value
    )
    stored = next(c.stored for c in contenders if c.stored.row.id == image_id)
    await _claim(tx, caller, stored, [c.stored for c in contenders], slot)


async def _claim(
    tx: UnitOfWork,
    caller: Caller,
    stored: StoredImage,
    contenders: Sequence[StoredImage],
    slot: Slot,
) -> None:
    row = stored.row
    now = utcnow()
    for holder in contenders:
        if holder.row.id != row.id and holder.row.primary_for == slot.value:
            # Clear the previous holder first so the unique index never sees two holders.
            await tx.pool.set_slot(holder.row, None, now)
            await _event(
                tx,
                caller,
                EventType.PRIMARY_CHANGED,
                holder.row.id,
                holder,
                previous_slot=slot.value,
            )
    previous = row.primary_for
    await tx.pool.set_slot(row, slot.value, now)
    await _event(
        tx,
        caller,
        EventType.PRIMARY_CHANGED,
        row.id,
        stored,
        slot=slot.value,
        previous_slot=previous,
    )


async def _clear(tx: UnitOfWork, caller: Caller, stored: StoredImage) -> None:
    row = stored.row
    previous = row.primary_for
    await tx.pool.set_slot(row, None, utcnow())
    await _event(tx, caller, EventType.PRIMARY_CHANGED, row.id, stored, previous_slot=previous)


async def set_primary(stores: Stores, caller: Caller, image_id: str, slot: Slot | None) -> Image:
    """Claim `slot` for the image (the previous holder loses it), or clear the image's slot.

    A swap is five statements inside the write lock: the owner lock, one read of the
    image and the holder (with the image's ledger totals), two updates, and the two
    events in one insert."""
    async with stores.transaction() as tx:
        await tx.owners.lock(caller.owner_id)
        contenders = await tx.pool.slot_contenders(
            caller.owner_id, caller.space_id, image_id, slot.value if slot else None
        )
        found = next((c for c in contenders if c.stored.row.id == image_id), None)
        if found is None:
            raise NotFound()
        stored = found.stored
        changed = stored.row.primary_for != (slot.value if slot else None)
        if changed and slot is not None:
            await _claim(tx, caller, stored, [c.stored for c in contenders], slot)
        elif changed:
            await _clear(tx, caller, stored)
        image = await _to_image(tx, stored, _totals(found))
    if changed:
        stores.notifier.notify(caller.owner_id)
    return image


async def delete_image(stores: Stores, caller: Caller, image_id: str) -> str:
    """Soft delete: the row keeps its data for a later purge but leaves every query and slot."""
    async with stores.transaction() as tx:
        row = (await _locked(tx, caller, image_id)).stored.row
        now = utcnow()
        previous = row.primary_for
        row.deleted_at = now
        row.primary_for = None
        row.updated_at = now
        await tx.pool.save(row)
        await _event(tx, caller, EventType.DELETED, image_id, kind=row.kind, previous_slot=previous)
    stores.notifier.notify(caller.owner_id)
    return image_id


_CURSOR_TAG = "image:v1:"


def cursor_of(image: Image) -> str:
    """The opaque cursor of an image's place in its pool: it keeps its place after the
    image is deleted (a position, not a row)."""
    return paging.encode(_CURSOR_TAG, "|".join(_position(image)))


def _position(image: Image) -> tuple[str, str]:
    # The snapshot's own order (created_at, id), as text that sorts the same way.
    created = image.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return created, image.id


def _anchor(cursor: str, field: str) -> tuple[str, str]:
    created, _, image_id = paging.decode(_CURSOR_TAG, cursor, field).partition("|")
    if len(created) != 26 or not image_id:
        raise InvalidInput(f"{field} is not a cursor of this list", field=field)
    return created, image_id


async def page_images(
    stores: Stores,
    caller: Caller,
    found: paging.Window,
    kind: Kind | None = None,
    order: Order = Order.NEWEST_FIRST,
) -> paging.Page[Image]:
    """One page of `list_images` (the pool is held whole, so the page and its flags are
    exact). A cursor names a position, which stays valid when its image is deleted."""
    anchor = _anchor(found.cursor, found.cursor_field) if found.cursor is not None else None
    images = await list_images(stores, caller, kind, order)
    return paging.page_of(images, _position, order is Order.NEWEST_FIRST, found, anchor)
