"""Owner rows: created on first write, locked to serialize an owner's changes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

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


async def lock_owner(session: AsyncSession, owner_id: str) -> Owner:
    """Serialize one owner's writes: slot swaps and event order rely on it."""
    await ensure_owner(session, owner_id)
    owner = (
        await session.execute(
            select(Owner).where(Owner.id == owner_id).with_for_update()  # type: ignore[arg-type]
        )
    ).scalar_one()
    return owner
