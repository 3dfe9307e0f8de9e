"""The usage ledger: which reference image went to which provider, for which generation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.tables import ReferenceUse, aware


@dataclass(frozen=True)
class UseTotals:
    """How often an image (or a recipient) was sent, and when last."""

    count: int
    last_used_at: datetime


@dataclass(frozen=True)
class RecipientTotals:
    provider: str
    host: str
    uses: int
    images: int
    last_used_at: datetime


class ReferenceUseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def record(self, uses: Iterable[ReferenceUse]) -> None:
        """Add ledger rows to the transaction that records the generation's outcome."""
        self._session.add_all(list(uses))

    async def page(
        self,
        owner_id: str,
        space_id: str,
        image_id: str,
        limit: int,
        cursor: tuple[datetime, str] | None,
        *,
        backward: bool = False,
    ) -> list[ReferenceUse]:
        """An image's uses, newest first: `limit` rows older than `cursor` when given;
        `backward`, the `limit` rows just newer than it (still listed newest first)."""
        order = (col(ReferenceUse.used_at), col(ReferenceUse.id))
        query = (
            select(ReferenceUse)
            .where(
                col(ReferenceUse.owner_id) == owner_id,
                col(ReferenceUse.space_id) == space_id,
                col(ReferenceUse.image_id) == image_id,
            )
            .order_by(*(o.asc() if backward else o.desc() for o in order))
            .limit(limit)
        )
        if cursor is not None:
            position, anchor = tuple_(*order), tuple_(*cursor)
            query = query.where(position > anchor if backward else position < anchor)
        rows = list((await self._session.execute(query)).scalars().all())
        return rows[::-1] if backward else rows

    async def totals_by_image(
        self, owner_id: str, space_id: str, image_id: str | None = None
    ) -> dict[str, UseTotals]:
        """Image id -> its use count and last use, for every image of the pool ever sent
        (or for `image_id` alone)."""
        query = (
            select(
                col(ReferenceUse.image_id),
                func.count(),
                func.max(col(ReferenceUse.used_at)),
            )
            .where(col(ReferenceUse.owner_id) == owner_id, col(ReferenceUse.space_id) == space_id)
            .group_by(col(ReferenceUse.image_id))
        )
        if image_id is not None:
            query = query.where(col(ReferenceUse.image_id) == image_id)
        rows = (await self._session.execute(query)).all()
        return {str(r[0]): UseTotals(int(r[1]), aware(r[2])) for r in rows}

    async def recipients(self, owner_id: str, space_id: str) -> list[RecipientTotals]:
        """Every provider and host that received an image of the pool, most recent first."""
        query = (
            select(
                col(ReferenceUse.provider),
                col(ReferenceUse.host),
                func.count(),
                func.count(func.distinct(col(ReferenceUse.image_id))),
                func.max(col(ReferenceUse.used_at)),
            )
            .where(col(ReferenceUse.owner_id) == owner_id, col(ReferenceUse.space_id) == space_id)
            .group_by(col(ReferenceUse.provider), col(ReferenceUse.host))
        )
        rows = (await self._session.execute(query)).all()
        found = [RecipientTotals(str(r[0]), str(r[1]), int(r[2]), int(r[3]), r[4]) for r in rows]
        return sorted(found, key=lambda r: (r.last_used_at, r.provider, r.host), reverse=True)

    async def all_of_owner(self, owner_id: str) -> Sequence[ReferenceUse]:
        """Every use of the owner's images in every space, oldest first (the data export)."""
        query = (
            select(ReferenceUse)
            .where(col(ReferenceUse.owner_id) == owner_id)
            .order_by(col(ReferenceUse.used_at), col(ReferenceUse.id))
        )
        return list((await self._session.execute(query)).scalars().all())

    async def delete_owner(self, owner_id: str) -> None:
        await self._session.execute(
            delete(ReferenceUse).where(col(ReferenceUse.owner_id) == owner_id)
        )
