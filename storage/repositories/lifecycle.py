"""Removing rows for good: soft-deleted images, unattached uploads, unused media objects,
and everything of one owner. Bytes are never deleted here: released blobs are marked
orphaned in the registry, and the garbage collector removes them later."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.eventlog import snapshot
from storage.keys import FieldVault
from storage.repositories.blobs import BlobRegistry
from storage.repositories.media import APP_ME
from storage.tables import (
    GenerationRecord,
    MediaObject,
    MediaRef,
    MediaVariant,
    MeImage,
    MeImageEvent,
    utcnow,
)


class LifecycleRepository:
    def __init__(self, session: AsyncSession, vault: FieldVault) -> None:
        self._session = session
        self._vault = vault

    async def owners_with_purgeable(self, cutoff: datetime) -> set[str]:
        """Owners with images deleted before `cutoff`, or uploads to the pool made before
        it that no image ever held."""
        deleted = select(col(MeImage.owner_id)).where(col(MeImage.deleted_at) < cutoff)
        unattached = select(col(MediaRef.owner_id)).where(
            col(MediaRef.app) == APP_ME,
            col(MediaRef.created_at) < cutoff,
            ~exists().where(col(MeImage.media_ref_id) == col(MediaRef.id)),
        )
        owners = set((await self._session.execute(deleted.distinct())).scalars())
        return owners | set((await self._session.execute(unattached.distinct())).scalars())

    async def images_deleted_before(self, owner_id: str, cutoff: datetime) -> list[str]:
        """Ids of the owner's images soft-deleted before `cutoff` (what a purge removes)."""
        query = select(col(MeImage.id)).where(
            col(MeImage.owner_id) == owner_id, col(MeImage.deleted_at) < cutoff
        )
        return list((await self._session.execute(query)).scalars())

    async def delete_images(self, owner_id: str, image_ids: list[str]) -> list[str]:
        """Delete the owner's images among `image_ids`, live or deleted; their media ref ids."""
        query = select(col(MeImage.id), col(MeImage.media_ref_id)).where(
            col(MeImage.owner_id) == owner_id, col(MeImage.id).in_(image_ids)
        )
        gone = (await self._session.execute(query)).all()
        if gone:
            ids = [row[0] for row in gone]
            await self._session.execute(delete(MeImage).where(col(MeImage.id).in_(ids)))
            await snapshot.forget(self._session, ids)
        return [row[1] for row in gone]

    async def delete_images_deleted_before(self, owner_id: str, cutoff: datetime) -> list[str]:
        """Delete the owner's images soft-deleted before `cutoff`; their media ref ids."""
        query = select(col(MeImage.id), col(MeImage.media_ref_id)).where(
            col(MeImage.owner_id) == owner_id, col(MeImage.deleted_at) < cutoff
        )
        gone = (await self._session.execute(query)).all()
        if gone:
            image_ids = [row[0] for row in gone]
            await self._session.execute(delete(MeImage).where(col(MeImage.id).in_(image_ids)))
            # The event log keeps what happened, not what the purged images held.
            await snapshot.forget(self._session, image_ids)
        return [row[1] for row in gone]

    async def delete_unattached_uploads(
        self, owner_id: str, ref_ids: list[str], cutoff: datetime
    ) -> list[str]:
        """Delete the owner's uploads no image holds that are in `ref_ids` or older than
        `cutoff`; the ids of the media objects they referenced."""
        query = select(col(MediaRef.id), col(MediaRef.media_object_id)).where(
            col(MediaRef.owner_id) == owner_id,
            col(MediaRef.app) == APP_ME,
            or_(col(MediaRef.id).in_(ref_ids), col(MediaRef.created_at) < cutoff),
            ~exists().where(col(MeImage.media_ref_id) == col(MediaRef.id)),
        )
        refs = (await self._session.execute(query)).all()
        if refs:
            ids = [row[0] for row in refs]
            await self._session.execute(delete(MediaRef).where(col(MediaRef.id).in_(ids)))
        return [row[1] for row in refs]

    async def release_objects(self, owner_id: str, object_ids: Iterable[str]) -> tuple[int, int]:
        """Delete the media objects no reference uses any more; their blobs become orphans.
        Returns (objects deleted, distinct blob keys orphaned)."""
        candidates = sorted(set(object_ids))
        if not candidates:
            return 0, 0
        used = select(col(MediaRef.media_object_id)).where(
            col(MediaRef.media_object_id).in_(candidates)
        )
        still_used = set((await self._session.execute(used)).scalars())
        unused = [oid for oid in candidates if oid not in still_used]
        if not unused:
            return 0, 0
        keys = await self._object_keys(unused)
        await self._session.execute(
            delete(MediaVariant).where(col(MediaVariant.media_object_id).in_(unused))
        )
        await self._session.execute(
            delete(MediaObject).where(
                col(MediaObject.id).in_(unused), col(MediaObject.owner_id) == owner_id
            )
        )
        await BlobRegistry(self._session).orphan(owner_id, keys, utcnow())
        return len(unused), len(set(keys))

    async def _object_keys(self, object_ids: list[str]) -> list[str]:
        keys: list[str] = []
        query = select(MediaObject).where(col(MediaObject.id).in_(object_ids))
        for obj in (await self._session.execute(query)).scalars():
            keys += [obj.storage_path, obj.thumbnail_path]
            if obj.medium_path:
                keys.append(obj.medium_path)
        variants = select(col(MediaVariant.storage_path)).where(
            col(MediaVariant.media_object_id).in_(object_ids)
        )
        return keys + list((await self._session.execute(variants)).scalars())

    async def delete_owner_pool(self, owner_id: str) -> tuple[int, int, list[str]]:
        """Delete every image and media ref of the owner: (images, refs, object ids)."""
        images = await self._session.execute(
            delete(MeImage).where(col(MeImage.owner_id) == owner_id)
        )
        objects = select(col(MediaObject.id)).where(col(MediaObject.owner_id) == owner_id)
        object_ids = list((await self._session.execute(objects)).scalars())
        refs = await self._session.execute(
            delete(MediaRef).where(col(MediaRef.owner_id) == owner_id)
        )
        return (
            int(images.rowcount or 0),  # type: ignore[attr-defined]
            int(refs.rowcount or 0),  # type: ignore[attr-defined]
            object_ids,
        )

    async def delete_owner_history(self, owner_id: str) -> None:
        """The owner's event log and generations (prompts, outputs)."""
        await self._session.execute(
            delete(MeImageEvent).where(col(MeImageEvent.owner_id) == owner_id)
        )
        await self._session.execute(
            delete(GenerationRecord).where(col(GenerationRecord.owner_id) == owner_id)
        )

    async def destroy_keys(self, owner_id: str) -> None:
        """Crypto-shred: without the data keys, copies of old ciphertexts are noise."""
        await self._vault.destroy_owner_keys(self._session, owner_id)
