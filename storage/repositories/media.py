"""Media rows: stored objects (one per owner and content hash), the media ids that
reference them, their cached renditions, and which media ids are revoked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.blobs import LEGACY_PREFIX
from storage.tables import MediaObject, MediaRef, MediaVariant, MeImage

# The app tag of uploads to the pool; only these become images and can be revoked.
APP_ME = "me"
# The app tag of generation outputs: they live as long as their generation.
APP_PICTURE = "picture"


class StoredMedia(NamedTuple):
    """A media id's reference with the stored object it points at."""

    media: MediaObject
    ref: MediaRef


class MediaConflict(Exception):
    """A unique index refused the row: a concurrent writer inserted the same one first."""


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


class MediaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _flush(self) -> None:
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise MediaConflict() from exc

    async def object_by_hash(self, owner_id: str, sha256: str) -> MediaObject | None:
        query = select(MediaObject).where(
            col(MediaObject.owner_id) == owner_id, col(MediaObject.sha256) == sha256
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def object_exists(self, object_id: str) -> bool:
        return await self._session.get(MediaObject, object_id) is not None

    async def save(self, row: MediaObject | MediaRef | MediaVariant) -> None:
        """Insert or update one row now; raises MediaConflict if a unique index refuses."""
        self._session.add(row)
        await self._flush()

    async def upload(self, owner_id: str, space_id: str, media_id: str) -> StoredMedia | None:
        """An unrevoked upload (`me`) of one owner's space by media id."""
        return await self.of_app(owner_id, space_id, media_id, APP_ME)

    async def of_app(
        self, owner_id: str, space_id: str, media_id: str, app: str
    ) -> StoredMedia | None:
        """An unrevoked media id of one owner's space with the given app tag."""
        return await self._first(
            col(MediaRef.id) == media_id,
            col(MediaRef.owner_id) == owner_id,
            col(MediaRef.space_id) == space_id,
            col(MediaRef.app) == app,
            not_revoked(),
        )

    async def servable(self, media_id: str) -> StoredMedia | None:
        """Any unrevoked media by id, whoever owns it."""
        return await self._first(col(MediaRef.id) == media_id, not_revoked())

    async def object_ids(
        self, owner_id: str, space_id: str, media_ids: Sequence[str], app: str
    ) -> dict[str, str]:
        """Media id -> stored object id, for those of the ids that are media of one
        owner's space with the given app tag (one query for the lot)."""
        if not media_ids:
            return {}
        query = select(col(MediaRef.id), col(MediaRef.media_object_id)).where(
            col(MediaRef.id).in_(list(media_ids)),
            col(MediaRef.owner_id) == owner_id,
            col(MediaRef.space_id) == space_id,
            col(MediaRef.app) == app,
        )
        return {ref_id: obj_id for ref_id, obj_id in (await self._session.execute(query)).all()}

    async def _first(self, *conditions: ColumnElement[bool]) -> StoredMedia | None:
        query = (
            select(MediaObject, MediaRef)
            .join(MediaRef, col(MediaRef.media_object_id) == col(MediaObject.id))
            .where(*conditions)
        )
        row = (await self._session.execute(query)).first()
        return None if row is None else StoredMedia(*row)

    async def variant_path(self, object_id: str, spec: str) -> str | None:
        query = select(col(MediaVariant.storage_path)).where(
            col(MediaVariant.media_object_id) == object_id, col(MediaVariant.spec) == spec
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def unsealed_objects(self, *, after: str, limit: int) -> list[str]:
        """Ids (in order, after `after`) of media objects with a rendition or a cached
        variant still under a name of the plaintext era (`o/…`, see `storage.sealed`)."""
        query = (
            select(col(MediaObject.id))
            .where(col(MediaObject.id) > after, _unsealed_object())
            .order_by(col(MediaObject.id))
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars())

    async def count_unsealed_objects(self) -> int:
        query = select(func.count()).select_from(MediaObject).where(_unsealed_object())
        return int((await self._session.execute(query)).scalar_one())

    async def object_with_variants(
        self, object_id: str, *, lock: bool = False
    ) -> tuple[MediaObject, list[MediaVariant]] | None:
        query = select(MediaObject).where(col(MediaObject.id) == object_id)
        if lock:
            query = query.with_for_update()
        obj = (await self._session.execute(query)).scalar_one_or_none()
        if obj is None:
            return None
        variants = select(MediaVariant).where(col(MediaVariant.media_object_id) == object_id)
        if lock:
            variants = variants.with_for_update()
        return obj, list((await self._session.execute(variants)).scalars())


def _unsealed_object() -> ColumnElement[bool]:
    legacy = f"{LEGACY_PREFIX}%"
    return or_(
        col(MediaObject.storage_path).like(legacy),
        col(MediaObject.thumbnail_path).like(legacy),
        col(MediaObject.medium_path).like(legacy),
        exists().where(
            col(MediaVariant.media_object_id) == col(MediaObject.id),
            col(MediaVariant.storage_path).like(legacy),
        ),
    )
