"""Uploads: a sanitised image stored as bytes once per owner, and a media id per upload.

Blobs and rows follow one protocol so that a row never points at a missing blob and no
blob is left untracked (see `storage.tables.MediaBlob`):
1. register the keys (`orphaned_at` = now: not referenced yet) and commit;
2. write the bytes (durable when `put` returns);
3. under the owner's lock, check the registrations are still there (the garbage
   collector removes bytes and registration together) and link rows to the keys.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from resolvers import rate_limits
from resolvers.errors import DomainError, NotFound
from resolvers.media.sanitising import EncodedImage, encode_upload
from resolvers.stores import Caller, Stores
from storage.repositories import UnitOfWork
from storage.repositories.blobs import RegistrationLost
from storage.repositories.media import APP_ME, APP_PICTURE, MediaConflict
from storage.sealed import MEDIUM, ORIGINAL, THUMBNAIL, OwnerBlobs
from storage.tables import MediaObject, MediaRef, aware, utcnow

__all__ = [
    "APP_ME",
    "Media",
    "StagedImage",
    "accept_upload",
    "get_media",
    "link_media",
    "media_for_new_image",
    "media_from_rows",
    "stage_blobs",
    "store_image",
]

_ATTEMPTS = 5


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


def media_from_rows(obj: MediaObject, ref: MediaRef) -> Media:
    return Media(
        id=ref.id,
        owner_id=ref.owner_id,
        content_type=obj.content_type,
        byte_size=obj.byte_size,
        width=obj.width,
        height=obj.height,
        storage_path=obj.storage_path,
        thumbnail_path=obj.thumbnail_path,
        created_at=aware(ref.created_at),
        sha256=obj.sha256,
        object_id=obj.id,
        medium_path=obj.medium_path,
        space_id=ref.space_id,
    )


@dataclass(frozen=True)
class Renditions:
    """The object names of one stored image: the original and its two renditions."""

    original: str
    thumbnail: str
    medium: str

    @classmethod
    def of(cls, owner: OwnerBlobs, sha256: str) -> Renditions:
        return cls(
            owner.name(sha256, ORIGINAL), owner.name(sha256, THUMBNAIL), owner.name(sha256, MEDIUM)
        )

    def blobs(self, image: EncodedImage) -> dict[str, bytes]:
        return {
            self.original: image.data,
            self.thumbnail: image.thumbnail,
            self.medium: image.medium,
        }


def adopt_renditions(obj: MediaObject, names: Renditions) -> list[str]:
    """Point an existing media object at freshly written renditions (its bytes stored
    again under sealed names); the names it held before, to be orphaned."""
    old = [obj.storage_path, obj.thumbnail_path, obj.medium_path]
    obj.storage_path, obj.thumbnail_path = names.original, names.thumbnail
    obj.medium_path = names.medium
    return [
        key
        for key in old
        if key is not None and key not in (names.original, names.thumbnail, names.medium)
    ]


async def store_image(
    stores: Stores,
    caller: Caller,
    data: bytes,
    app: str = APP_ME,
    *,
    prepared: EncodedImage | None = None,
) -> Media:
    """Validate, re-encode and store an upload; returns a new media id of the caller's space.
    A generation's output comes `prepared` (encoded and signed by its own rules) and is
    stored exactly as given, by the same protocol.

    The bytes are stored once per owner, whatever the space, but every upload is a
    media id of its own. So uploading the same photo twice gives two images (what a
    person who adds a photo twice sees happen), each with its own URLs: deleting one
    revokes its URLs without touching the other's, and a deleted image's URLs never
    come back by uploading the photo again. Uploads never attached to an image are
    removed by `purge --deleted` after its cutoff.
    """
    image = prepared or await accept_upload(stores, caller, data, counted=app == APP_ME)
    for _attempt in range(_ATTEMPTS):
        # Sealed under the owner's current key, named by it (looked up on every attempt:
        # a purge may have destroyed the key the last attempt used).
        owner = await stores.sealed.owner(caller.owner_id)
        staged = await stage_blobs(stores, owner, image)
        try:
            async with stores.transaction() as tx:
                await tx.owners.lock(caller.owner_id)
                await tx.blobs.claim(staged.keys(), sealed_with=owner.data_key_id)
                return await link_media(tx, caller, staged, app)
        except (RegistrationLost, MediaConflict):
            # Collected meanwhile, the key was destroyed, or a concurrent upload of the
            # same bytes won an insert.
            continue
    raise RuntimeError("could not record media after repeated conflicts")


async def accept_upload(
    stores: Stores, caller: Caller, data: bytes, *, counted: bool = True, keep_plain: bool = False
) -> EncodedImage:
    """The checks every image file passes before it is stored, whichever door it came
    through: validated and re-encoded (`sanitising.encode_upload`). `counted`: an upload
    of the caller's, under the upload rate limit and in the upload metrics (an import's
    files are one act of the import, a generation's outputs paid by the generation);
    `keep_plain`: a file that already is what meimages stores keeps its bytes (an
    archive's, so an export and an import lose nothing)."""
    if counted:
        # Counted before the work: a refused upload costs no decoding.
        await rate_limits.consume(stores, caller, rate_limits.Act.UPLOAD)
    try:
        image = await encode_upload(data, stores.config.limits, keep_plain=keep_plain)
    except DomainError as refused:
        if counted:
            stores.observer.upload_rejected(refused.code)
        raise
    if counted:
        stores.observer.upload_stored(len(data))
    return image


@dataclass(frozen=True)
class StagedImage:
    """An image's blobs, registered (as orphans) and written: steps 1 and 2 of the
    protocol. Only the metadata of the image stays; its bytes are in the store."""

    content_type: str
    width: int
    height: int
    sha256: str
    byte_size: int
    names: Renditions

    def keys(self) -> list[str]:
        return [self.names.original, self.names.thumbnail, self.names.medium]


async def stage_blobs(
    stores: Stores, owner: OwnerBlobs, image: EncodedImage, registered: set[str] | None = None
) -> StagedImage:
    """Steps 1 and 2: register the image's blobs, then write them. `registered`, if
    given, gets the keys as soon as they are registered (whoever must discard them
    if what follows fails)."""
    names = Renditions.of(owner, image.sha256)
    blobs = names.blobs(image)
    async with stores.transaction() as tx:
        await tx.blobs.register(owner.owner_id, blobs)
    if registered is not None:
        registered.update(blobs)
    # Bytes first, row second: a committed row never points at a missing blob.
    await asyncio.gather(*(owner.put(key, value) for key, value in blobs.items()))
    return StagedImage(
        image.content_type, image.width, image.height, image.sha256, len(image.data), names
    )


async def link_media(tx: UnitOfWork, caller: Caller, staged: StagedImage, app: str) -> Media:
    """Step 3, in the caller's transaction, which holds the owner lock and has claimed
    the blobs: the media object (once per owner and content) and a new media id for it."""
    obj = await tx.media.object_by_hash(caller.owner_id, staged.sha256)
    now = utcnow()
    names = staged.names
    if obj is not None and obj.storage_path != names.original:
        # Stored before sealing (or under an older key): the fresh sealed copy takes over.
        await tx.blobs.orphan(caller.owner_id, adopt_renditions(obj, names), now)
        await tx.media.save(obj)
    if obj is None:
        obj = MediaObject(
            owner_id=caller.owner_id,
            sha256=staged.sha256,
            content_type=staged.content_type,
            byte_size=staged.byte_size,
            width=staged.width,
            height=staged.height,
            storage_path=names.original,
            thumbnail_path=names.thumbnail,
            medium_path=names.medium,
            created_at=now,
        )
        await tx.media.save(obj)
    ref = MediaRef(
        owner_id=caller.owner_id,
        space_id=caller.space_id,
        app=app,
        media_object_id=obj.id,
        created_at=now,
    )
    await tx.media.save(ref)
    return media_from_rows(obj, ref)


async def get_media(tx: UnitOfWork, caller: Caller, media_id: str) -> Media:
    """The caller's upload by id, in the caller's space only; another owner's id, another
    space's id, a revoked id and a generation output's id are all reported exactly like
    a missing one (only uploads become images: an output's URLs follow its generation)."""
    found = await tx.media.upload(caller.owner_id, caller.space_id, media_id)
    if found is None:
        raise NotFound("Media")
    return media_from_rows(*found)


async def media_for_new_image(tx: UnitOfWork, caller: Caller, media_id: str) -> Media:
    """What a new image of the pool is made from: an upload of the caller's space, or a
    generation output of that space taken into the pool. An output gets a new media id
    of its own on the same stored bytes, so the image follows the upload rules (one
    image per id; deleting it revokes that id) while the output's own URLs keep
    following its generation. Anything else answers like a missing id."""
    found = await tx.media.upload(caller.owner_id, caller.space_id, media_id)
    if found is not None:
        return media_from_rows(*found)
    output = await tx.media.of_app(caller.owner_id, caller.space_id, media_id, APP_PICTURE)
    if output is None:
        raise NotFound("Media")
    obj, _ = output
    ref = MediaRef(
        owner_id=caller.owner_id,
        space_id=caller.space_id,
        app=APP_ME,
        media_object_id=obj.id,
        created_at=utcnow(),
    )
    await tx.media.save(ref)
    return media_from_rows(obj, ref)
