"""The blob registry: every blob key the server writes, and whether a row references it.

Writers lock registrations in key order, so transactions never wait on each other in
a cycle (see `storage.tables.MediaBlob` and the protocol in `resolvers.media.uploads`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.tables import DataKey, MediaBlob, MediaObject, MediaVariant, utcnow
from storage.upsert import upsert


class RegistrationLost(Exception):
    """The garbage collector removed a registration (and maybe the bytes) meanwhile."""


def _registrations(owner_id: str, keys: Iterable[str], now: datetime) -> list[dict[str, object]]:
    return [
        {"key": key, "owner_id": owner_id, "created_at": now, "orphaned_at": now}
        for key in sorted(set(keys))
    ]


class BlobRegistry:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def register(self, owner_id: str, keys: Iterable[str]) -> None:
        """Record keys before their bytes exist, so no blob is ever untracked. A key
        already referenced stays referenced; an orphaned one starts its grace again."""
        now = utcnow()
        table = MediaBlob.__table__  # type: ignore[attr-defined]
        keep_referenced = {"orphaned_at": case((table.c.orphaned_at.is_(None), None), else_=now)}
        rows = _registrations(owner_id, keys, now)
        await upsert(self._session, table, rows, key=["key"], on_conflict=keep_referenced)

    async def orphan(self, owner_id: str, keys: Iterable[str], now: datetime) -> None:
        """Mark keys orphaned as of `now`, registering any the registry did not know."""
        table = MediaBlob.__table__  # type: ignore[attr-defined]
        rows = _registrations(owner_id, keys, now)
        await upsert(self._session, table, rows, key=["key"], on_conflict={"orphaned_at": now})

    async def claim(self, keys: Iterable[str], *, sealed_with: str | None = None) -> None:
        """Lock the registrations and mark them referenced; raises RegistrationLost if
        any is gone, or if the data key the bytes were sealed with (`sealed_with`) was
        destroyed meanwhile (a purge: those bytes can never be opened again)."""
        wanted = sorted(set(keys))
        found = await self.lock(wanted)
        if len(found) != len(wanted):
            raise RegistrationLost()
        if sealed_with is not None:
            alive = select(col(DataKey.id)).where(col(DataKey.id) == sealed_with)
            if (await self._session.execute(alive)).first() is None:
                raise RegistrationLost()
        await self.mark_referenced(wanted)

    async def lock(self, keys: Iterable[str]) -> list[MediaBlob]:
        """The registrations of `keys` that exist, locked in key order."""
        query = (
            select(MediaBlob)
            .where(col(MediaBlob.key).in_(sorted(set(keys))))
            .order_by(col(MediaBlob.key))
            .with_for_update()
        )
        return list((await self._session.execute(query)).scalars().all())

    async def mark_referenced(self, keys: Iterable[str]) -> None:
        await self._session.execute(
            update(MediaBlob).where(col(MediaBlob.key).in_(sorted(keys))).values(orphaned_at=None)
        )

    async def orphaned_since(
        self,
        cutoff: datetime,
        *,
        after: str,
        limit: int,
        owner_id: str | None,
        prefix: str = "",
    ) -> list[str]:
        """Keys orphaned at or before `cutoff`, in key order after `after`."""
        query = (
            select(col(MediaBlob.key))
            .where(col(MediaBlob.orphaned_at) <= cutoff, col(MediaBlob.key) > after)
            .order_by(col(MediaBlob.key))
            .limit(limit)
        )
        if prefix:
            query = query.where(col(MediaBlob.key).startswith(prefix, autoescape=True))
        if owner_id is not None:
            query = query.where(col(MediaBlob.owner_id) == owner_id)
        return list((await self._session.execute(query)).scalars())

    async def referenced(self, keys: list[str]) -> set[str]:
        """Which of `keys` a media object or variant row still points at."""
        found: set[str] = set()
        paths = (
            MediaObject.storage_path,
            MediaObject.thumbnail_path,
            MediaObject.medium_path,
            MediaVariant.storage_path,
        )
        for path in paths:
            column = col(path)
            rows = await self._session.execute(select(column).where(column.in_(keys)))
            found |= {key for key in rows.scalars() if key is not None}
        return found

    async def forget(self, keys: list[str]) -> None:
        await self._session.execute(delete(MediaBlob).where(col(MediaBlob.key).in_(keys)))

    async def register_untracked(self, keys: list[str], now: datetime) -> int:
        """Register as orphans those of `keys` the registry does not know; how many."""
        query = select(col(MediaBlob.key)).where(col(MediaBlob.key).in_(keys))
        known = set((await self._session.execute(query)).scalars())
        unknown = [key for key in keys if key not in known]
        for key in unknown:
            self._session.add(MediaBlob(key=key, owner_id="", created_at=now, orphaned_at=now))
        await self._session.flush()
        return len(unknown)
