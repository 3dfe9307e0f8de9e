"""The portable upsert: INSERT ... ON CONFLICT, in the dialect of the session's database.

SQLite and PostgreSQL spell it the same way but SQLAlchemy builds it per dialect, so
every insert-or-update and insert-if-absent goes through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def dialect_insert(session: AsyncSession) -> Any:
    """`insert` of the session's dialect, the one that knows ON CONFLICT."""
    return postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str] | None = None,
    on_conflict: Mapping[str, Any] | None = None,
) -> None:
    """Insert `rows`; a row whose `key` columns already exist gets `on_conflict` set, or
    is left alone when `on_conflict` is None (insert if absent)."""
    if not rows:
        return
    statement = dialect_insert(session)(table).values(list(rows))
    if on_conflict is None:
        await session.execute(statement.on_conflict_do_nothing())
        return
    columns = [table.c[name] for name in key or ()]
    await session.execute(
        statement.on_conflict_do_update(index_elements=columns, set_=dict(on_conflict))
    )
