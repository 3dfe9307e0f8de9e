"""Delivering media: which media a URL may still serve, and the bytes of each variant.

Revocation is read from the database on every request, never from memory, so a deletion
or purge committed by any instance is seen by the next request on every instance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from resolvers.media.sanitising import in_worker
from resolvers.media.transforms import TransformSpec, medium_fallback, render_variant
from resolvers.media.uploads import Media, media_from_rows
from resolvers.stores import Stores
from storage.repositories.blobs import RegistrationLost
from storage.repositories.media import MediaConflict
from storage.tables import MediaVariant, utcnow

log = logging.getLogger("meimages.media")


@dataclass(frozen=True)
class Rendition:
    """Bytes of one variant, ready to serve."""

    data: bytes
    content_type: str
    etag: str


async def find_servable_media(stores: Stores, media_id: str) -> Media | None:
    """The media a URL names, if it may still be served; for the media route, which then
    checks a signature bound to the owner (or a token of the owner and space).

    - `me` media (uploads) serve until an image that held them is deleted and no live
      image holds them; an upload not attached yet serves (its preview);
    - `picture` media (generation outputs) serve while their reference exists, which
      is as long as the owner's generations exist (purging deletes both together).
    """
    async with stores.reading() as read:
        found = await read.media.servable(media_id)
    return None if found is None else media_from_rows(*found)


def variant_etag(media: Media, variant: str) -> str:
    """Stored content never changes under a key, so the content hash is the validator."""
    return f'"{media.sha256}"' if variant == "original" else f'"{media.sha256}.{variant}"'


async def read_variant(stores: Stores, media: Media, variant: str) -> Rendition | None:
    """The bytes of one variant; transforms are made on first use and kept."""
    etag = variant_etag(media, variant)
    stored = {
        "original": (media.storage_path, media.content_type),
        "thumbnail": (media.thumbnail_path, "image/webp"),
        "medium": (media.medium_path, "image/webp"),
    }
    path, content_type = stored.get(variant, (None, ""))
    if path is not None:
        data = await stores.sealed.get(media.owner_id, path)
        return None if data is None else Rendition(data, content_type, etag)
    spec = (
        medium_fallback(stores.config.limits)
        if variant == "medium"
        else TransformSpec.parse(variant, max_px=stores.config.limits.max_transform_px)
    )
    if spec is None:
        return None
    data = await _transformed(stores, media, spec)
    return None if data is None else Rendition(data, spec.content_type, etag)


async def _transformed(stores: Stores, media: Media, spec: TransformSpec) -> bytes | None:
    async with stores.reading() as read:
        cached = await read.media.variant_path(media.object_id, spec.name)
    if cached is not None:
        data = await stores.sealed.get(media.owner_id, cached)
        if data is None:
            log.error("variant %s of media object %s has no blob", spec.name, media.object_id)
        return data
    original = await stores.sealed.get(media.owner_id, media.storage_path)
    if original is None:
        return None
    data = await in_worker(
        stores.config.limits, render_variant, original, spec, stores.config.limits
    )
    await _keep_variant(stores, media, spec, data)
    return data


async def _keep_variant(stores: Stores, media: Media, spec: TransformSpec, data: bytes) -> None:
    """Store a rendition and record it, by the same protocol as uploads."""
    if not media.sha256 or not media.object_id:
        return  # its name comes from the content hash: never cache under a guessed one
    owner = await stores.sealed.owner(media.owner_id)
    key = owner.name(media.sha256, spec.name)
    async with stores.transaction() as tx:
        await tx.blobs.register(media.owner_id, [key])
    await owner.put(key, data)
    try:
        async with stores.transaction() as tx:
            await tx.owners.lock(media.owner_id, bump=False)
            if await tx.media.object_exists(media.object_id):
                await tx.blobs.claim([key], sealed_with=owner.data_key_id)
                variant = MediaVariant(
                    media_object_id=media.object_id,
                    spec=spec.name,
                    storage_path=key,
                    content_type=spec.content_type,
                    byte_size=len(data),
                    created_at=utcnow(),
                )
                await tx.media.save(variant)
    except (RegistrationLost, MediaConflict):
        # Another request cached the same variant, or the collector got here first;
        # either way this response still has its bytes and nothing is left untracked.
        pass
