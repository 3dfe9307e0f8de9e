"""Owner rows: created on first write, locked to serialize an owner's changes."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from resolvers.stores import Caller, Stores
from storage.tables import Owner, utcnow


async def ensure_owner(session: AsyncSession, owner_id: str) -> None:
    now = utcnow()
    values = {
        "id": owner_id,
        "ai_uses_reference_images": True,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(Owner).values(**values).on_conflict_do_nothing())


async def lock_owner(session: AsyncSession, owner_id: str, *, bump: bool = True) -> Owner:
    """Serialize one owner's writes (slot swaps and event order rely on it) and bump the
    owner's data version, which every cached answer about this owner is keyed on.

    `bump=False` is only for writes no query can see (e.g. a cached image rendition)."""
    await ensure_owner(session, owner_id)
    if bump:
        # The UPDATE takes the row lock on PostgreSQL; SQLite writers hold BEGIN IMMEDIATE.
        await session.execute(
            update(Owner)
            .where(col(Owner.id) == owner_id)
            .values(data_version=col(Owner.data_version) + 1)
        )
    owner = (
        await session.execute(select(Owner).where(col(Owner.id) == owner_id).with_for_update())
    ).scalar_one()
    return owner


async def data_version(stores: Stores, caller: Caller) -> int:
    """The owner's current data version (0 for an owner who never wrote anything).

    On SQLite the answer is remembered together with the database's change stamp taken
    before reading it; while the stamp is unchanged nothing was committed by anyone, so
    the remembered version is still exact and no query is needed.
    """
    stamp = stores.db.change_stamp()
    if stamp is not None:
        remembered = stores.owner_versions.get(caller.owner_id)
        if remembered is not None and remembered[0] == stamp:
            return remembered[1]
    async with stores.db.session() as session:
        version = int(
            (
                await session.execute(
                    select(col(Owner.data_version)).where(col(Owner.id) == caller.owner_id)
                )
            ).scalar_one_or_none()
            or 0
        )
    if stamp is not None:
        if len(stores.owner_versions) > 100_000:
            stores.owner_versions.clear()
        stores.owner_versions[caller.owner_id] = (stamp, version)
    return version
