"""MeImage rows of one owner's pool, with their media and their encrypted fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import Select, bindparam, func, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlmodel import col

from storage.db import TableStatements
from storage.keys import FieldVault
from storage.repositories.uses import UseTotals
from storage.tables import (
    ME_IMAGE_ENCRYPTED,
    MediaObject,
    MediaRef,
    MeImage,
    MeImageEncrypted,
    Owner,
    ReferenceUse,
    aware,
)

# The partial unique index that allows one live image per media id (storage/tables.py).
LIVE_MEDIA_INDEX = "uq_me_image_live_media"


class StoredImage(NamedTuple):
    """A live image's row with its media, as the pool queries read them."""

    row: MeImage
    media: MediaObject
    ref: MediaRef


class MediaAlreadyAttached(Exception):
    """The media id already has a live image (the live-media index refused a second)."""


def is_live_media_conflict(exc: IntegrityError) -> bool:
    # PostgreSQL names the index; SQLite names the column of the unique index.
    text = str(exc.orig)
    return LIVE_MEDIA_INDEX in text or "me_image.media_ref_id" in text


def _live(owner_id: str, space_id: str) -> Select[MeImage, MediaObject, MediaRef]:
    return (
        select(MeImage, MediaObject, MediaRef)
        .join(MediaRef, col(MediaRef.id) == col(MeImage.media_ref_id))
        .join(MediaObject, col(MediaObject.id) == col(MediaRef.media_object_id))
        .where(
            col(MeImage.owner_id) == owner_id,
            col(MeImage.space_id) == space_id,
            col(MeImage.deleted_at).is_(None),
        )
    )


def _image_uses(column: Any) -> Any:
    """`column` over the ledger rows of the selected image (count or latest use)."""
    return (
        select(column)
        .where(
            col(ReferenceUse.owner_id) == col(MeImage.owner_id),
            col(ReferenceUse.image_id) == col(MeImage.id),
            col(ReferenceUse.space_id) == col(MeImage.space_id),
        )
        .scalar_subquery()
    )


Entity = TypeVar("Entity")


class Detached(Generic[Entity]):
    """Instances of a table's entity made from a row of its columns, as the ORM's
    loading makes them but outside any session: detached, their values committed (no
    change to flush), their identity set. If one is later added to a session, the
    session takes it as the row it is, and writes only what changes after."""

    def __init__(self, entity: type[Entity]) -> None:
        mapper = inspect(entity)
        self.columns = list(mapper.local_table.c)
        self._keys = [mapper.get_property_by_column(column).key for column in self.columns]
        self._manager = mapper.class_manager
        self._mapper = mapper
        (key,) = mapper.primary_key  # one column: the identity is (entity, (its value,), None)
        self._key_at = self.columns.index(key)

    def __call__(self, values: Sequence[Any]) -> Entity:
        instance: Entity = self._manager.new_instance()
        # The values go straight into the instance's dict, as the ORM's loading puts
        # them: committed, nothing in its history. With its identity key and no session,
        # the instance is what `make_transient_to_detached` would make of it (which also
        # commits and expires what is not loaded: here, everything is).
        vars(instance).update(zip(self._keys, values, strict=True))
        instance_state(instance).key = self._mapper.identity_key_from_primary_key(
            [values[self._key_at]]
        )
        return instance


_IMAGES, _MEDIA, _REFS = Detached(MeImage), Detached(MediaObject), Detached(MediaRef)
_IMAGE_END = len(_IMAGES.columns)
_MEDIA_END = _IMAGE_END + len(_MEDIA.columns)
_REF_END = _MEDIA_END + len(_REFS.columns)


def _contenders(*entities: Any) -> Any:
    # A null slot matches no holder: then only the image itself.
    return (
        select(
            *entities,
            _image_uses(func.count()),
            _image_uses(func.max(col(ReferenceUse.used_at))),
        )
        .join(MediaRef, col(MediaRef.id) == col(MeImage.media_ref_id))
        .join(MediaObject, col(MediaObject.id) == col(MediaRef.media_object_id))
        .where(
            col(MeImage.owner_id) == bindparam("owner_id"),
            col(MeImage.space_id) == bindparam("space_id"),
            col(MeImage.deleted_at).is_(None),
            or_(
                col(MeImage.id) == bindparam("image_id"),
                col(MeImage.primary_for) == bindparam("slot"),
            ),
        )
    )


# Built once: a statement made per call costs more Python than SQLite takes to run it
# (construction and its cache key), and the write lock is held meanwhile. The same
# query twice: through the session, whose identity map gives back the objects it
# holds, and on the tables' columns, read as rows (see `slot_contenders`).
_CONTENDERS = _contenders(MeImage, MediaObject, MediaRef)
_CONTENDER_ROWS = _contenders(*_IMAGES.columns, *_MEDIA.columns, *_REFS.columns)
_ME_IMAGE = MeImage.__table__  # type: ignore[attr-defined]
# On the table, not the entity: the ORM would look for the row among loaded objects.
_SET_SLOT = (
    update(_ME_IMAGE)
    .where(_ME_IMAGE.c.id == bindparam("row_id"))
    .values(primary_for=bindparam("slot"), updated_at=bindparam("now"))
)

_SET_AI_REFERENCE = (
    update(_ME_IMAGE)
    .where(_ME_IMAGE.c.id == bindparam("row_id"))
    .values(
        ai_reference=bindparam("enabled"),
        ai_reference_until=bindparam("until"),
        updated_at=bindparam("now"),
    )
)


class Contender(NamedTuple):
    """A live image read for a slot change, with its totals from the usage ledger."""

    stored: StoredImage
    uses: UseTotals | None


def _contender(
    row: MeImage, media: MediaObject, ref: MediaRef, count: int, last: datetime
) -> Contender:
    """A contender as read: its rows, its count of uses and the latest (none if 0)."""
    return Contender(
        StoredImage(row, media, ref), UseTotals(int(count), aware(last)) if count else None
    )


class PoolRepository:
    def __init__(
        self, session: AsyncSession, vault: FieldVault, statements: TableStatements | None = None
    ) -> None:
        self._session = session
        self._vault = vault
        self._statements = statements if statements is not None else TableStatements(session)

    async def live_images(self, owner_id: str, space_id: str) -> list[StoredImage]:
        """Every live image of the pool, oldest first."""
        query = _live(owner_id, space_id).order_by(col(MeImage.created_at), col(MeImage.id))
        return [StoredImage(*r) for r in (await self._session.execute(query)).all()]

    async def live_count(self, owner_id: str, space_id: str) -> int:
        """How many live images the pool holds."""
        query = (
            select(func.count())
            .select_from(MeImage)
            .where(
                col(MeImage.owner_id) == owner_id,
                col(MeImage.space_id) == space_id,
                col(MeImage.deleted_at).is_(None),
            )
        )
        return int((await self._session.execute(query)).scalar_one())

    async def live_image(self, owner_id: str, space_id: str, image_id: str) -> StoredImage | None:
        query = _live(owner_id, space_id).where(col(MeImage.id) == image_id)
        row = (await self._session.execute(query)).first()
        return None if row is None else StoredImage(*row)

    async def open(self, row: MeImage) -> MeImageEncrypted:
        """The row's encrypted fields in plaintext; raises DecryptionError."""
        return await self._vault.open_row(self._session, ME_IMAGE_ENCRYPTED, row)

    async def seal(self, row: MeImage, values: Mapping[str, object]) -> None:
        """Encrypt `values` (encrypted fields by name) into the row's columns."""
        await self._vault.seal(self._session, ME_IMAGE_ENCRYPTED, row, values)

    async def save(self, row: MeImage) -> None:
        """Write the row now; raises MediaAlreadyAttached if its media id is taken."""
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            if not is_live_media_conflict(exc):
                raise
            raise MediaAlreadyAttached() from exc

    async def slot_contenders(
        self, owner_id: str, space_id: str, image_id: str, slot: str | None
    ) -> list[Contender]:
        """In one query, the live image `image_id` and the live holder of `slot` (if
        any, and if another image), each with its media and its ledger totals."""
        params = {"owner_id": owner_id, "space_id": space_id, "image_id": image_id, "slot": slot}
        if not self._session.in_transaction():
            # The session holds nothing of this transaction (no object read, added or
            # changed), so nothing it would flush or give back instead: the rows are
            # read on the connection and made into objects without the ORM's loading,
            # and the session is not even begun. The hot writes (a swap, a toggle) then
            # never use the session at all.
            return [
                _contender(
                    _IMAGES(row[:_IMAGE_END]),
                    _MEDIA(row[_IMAGE_END:_MEDIA_END]),
                    _REFS(row[_MEDIA_END:_REF_END]),
                    *row[_REF_END:],
                )
                for row in await self._statements.rows(_CONTENDER_ROWS, params)
            ]
        rows = (await self._session.execute(_CONTENDERS, params)).all()
        return [_contender(*row) for row in rows]

    async def image_to_change(
        self, owner_id: str, space_id: str, image_id: str
    ) -> Contender | None:
        """The live image `image_id` with its media and its ledger totals, in one query
        (a writer answers with the image as it left it, totals included)."""
        found = await self.slot_contenders(owner_id, space_id, image_id, None)
        return found[0] if found else None

    async def set_slot(self, row: MeImage, slot: str | None, now: datetime) -> None:
        """Give the row `slot` (None: no slot) in one UPDATE, and the loaded row the same
        values without making it dirty (a flush would write them again)."""
        await self._statements.send(_SET_SLOT, {"row_id": row.id, "slot": slot, "now": now})
        set_committed_value(row, "primary_for", slot)
        set_committed_value(row, "updated_at", now)

    async def set_ai_reference(
        self, row: MeImage, enabled: bool, until: datetime | None, now: datetime
    ) -> None:
        """The row's opt-in (and its `until`) in one UPDATE, like `set_slot`: a flush of
        the changed row costs several times the statement."""
        params = {"row_id": row.id, "enabled": enabled, "until": until, "now": now}
        await self._statements.send(_SET_AI_REFERENCE, params)
        set_committed_value(row, "ai_reference", enabled)
        set_committed_value(row, "ai_reference_until", until)
        set_committed_value(row, "updated_at", now)

    async def lapse_timed_consents(self, owner_id: str, now: datetime) -> list[tuple[str, str]]:
        """Turn off every live opt-in of the owner whose `until` has come; (image id, space
        id) of each. The caller holds the owner lock, so each lapses once."""
        query = select(col(MeImage.id), col(MeImage.space_id)).where(
            col(MeImage.owner_id) == owner_id,
            col(MeImage.deleted_at).is_(None),
            col(MeImage.ai_reference).is_(True),
            col(MeImage.ai_reference_until) <= now,
        )
        lapsed = [(str(r[0]), str(r[1])) for r in (await self._session.execute(query)).all()]
        if lapsed:
            await self._session.execute(
                update(MeImage)
                .where(col(MeImage.id).in_([image_id for image_id, _ in lapsed]))
                .values(ai_reference=False, ai_reference_until=None, updated_at=now)
            )
        return lapsed

    async def next_consent_lapse(self, owner_id: str) -> datetime | None:
        """The earliest `until` among the owner's live opt-ins (all spaces)."""
        query = select(func.min(col(MeImage.ai_reference_until))).where(
            col(MeImage.owner_id) == owner_id,
            col(MeImage.deleted_at).is_(None),
            col(MeImage.ai_reference).is_(True),
        )
        found: datetime | None = (await self._session.execute(query)).scalar_one_or_none()
        return found

    async def usable_references(
        self, owner_id: str, space_id: str, image_ids: Sequence[str], now: datetime
    ) -> dict[str, str]:
        """Image id -> media id of those images AI may use at `now`, by every rule at
        once: live, of this owner and space, opted in (and not past its `until`), and the
        owner's switch on."""
        query = (
            select(col(MeImage.id), col(MeImage.media_ref_id))
            .join(Owner, col(Owner.id) == col(MeImage.owner_id))
            .where(
                col(MeImage.id).in_(list(image_ids)),
                col(MeImage.owner_id) == owner_id,
                col(MeImage.space_id) == space_id,
                col(MeImage.deleted_at).is_(None),
                col(MeImage.ai_reference).is_(True),
                or_(
                    col(MeImage.ai_reference_until).is_(None),
                    col(MeImage.ai_reference_until) > now,
                ),
                col(Owner.ai_uses_reference_images).is_(True),
            )
        )
        rows = (await self._session.execute(query)).all()
        return {str(row[0]): str(row[1]) for row in rows}
