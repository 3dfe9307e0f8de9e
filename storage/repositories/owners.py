"""Owner rows: created on first write, locked to serialize an owner's changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import Database, TableStatements
from storage.tables import Owner, utcnow
from storage.upsert import upsert

# The owner lock's statements by dialect name, on the table (see `OwnerRepository.lock`)
# and on the entity, answering with the row (`OwnerRepository.locked`).
_LOCKS: dict[str, Any] = {}
_LOCKED: dict[str, Any] = {}
_LOCKED_LAPSE: dict[str, Any] = {}


def _upsert_owner(dialect: str, target: Any) -> Any:
    table = Owner.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(target)
        .values(
            id=bindparam("owner_id"),
            ai_uses_reference_images=True,
            data_version=bindparam("first", type_=Integer),
            created_at=bindparam("created"),
            updated_at=bindparam("updated"),
        )
        .on_conflict_do_update(
            index_elements=[table.c.id],
            set_={"data_version": table.c.data_version + bindparam("bump", type_=Integer)},
        )
    )


def _lock_statement(dialect: str) -> Any:
    statement = _LOCKS.get(dialect)
    if statement is None:
        statement = _LOCKS[dialect] = _upsert_owner(dialect, Owner.__table__)  # type: ignore[attr-defined]
    return statement


def _locked_statement(dialect: str) -> Any:
    # Built once like the lock: made per call, its construction and cache key cost more
    # Python than the statement takes to run.
    statement = _LOCKED.get(dialect)
    if statement is None:
        statement = _LOCKED[dialect] = _upsert_owner(dialect, Owner).returning(Owner)
    return statement


def _locked_lapse_statement(dialect: str) -> Any:
    statement = _LOCKED_LAPSE.get(dialect)
    if statement is None:
        table = Owner.__table__  # type: ignore[attr-defined]
        statement = _upsert_owner(dialect, table).returning(table.c.consent_lapses_at)
        _LOCKED_LAPSE[dialect] = statement
    return statement


_OWNER = Owner.__table__  # type: ignore[attr-defined]
_SET_CONSENT_LAPSES_AT = (
    update(_OWNER)
    .where(_OWNER.c.id == bindparam("owner_id"))
    .values(consent_lapses_at=bindparam("lapses_at"))
)


class OwnerRepository:
    def __init__(self, session: AsyncSession, statements: TableStatements | None = None) -> None:
        self._session = session
        self._statements = statements if statements is not None else TableStatements(session)

    async def ensure(self, owner_id: str) -> None:
        """The owner's row, made with the defaults if it does not exist yet."""
        now = utcnow()
        row = {
            "id": owner_id,
            "ai_uses_reference_images": True,
            "created_at": now,
            "updated_at": now,
        }
        await upsert(self._session, Owner.__table__, [row])  # type: ignore[attr-defined]

    async def lock(self, owner_id: str, *, bump: bool = True) -> None:
        """Serialize one owner's writes (slot swaps and event order rely on it) and bump the
        owner's data version, which every cached answer about this owner is keyed on.

        `bump=False` is only for writes no query can see (e.g. a cached image rendition)."""
        # One statement instead of insert-if-absent, bump and SELECT ... FOR UPDATE: the
        # conflict update takes the row lock on PostgreSQL (SQLite writers hold BEGIN
        # IMMEDIATE). Built once per dialect and sent on the table, not the entity, on the
        # transaction's connection: the hot writes take this lock, and the ORM's and the
        # session's bookkeeping cost more than the SQL.
        now = utcnow()
        await self._statements.send(
            _lock_statement(self._statements.dialect),
            {"owner_id": owner_id, "first": 1 if bump else 0, "bump": 1 if bump else 0}
            | {"created": now, "updated": now},
        )

    async def locked(self, owner_id: str, *, bump: bool = True) -> Owner:
        """`lock`, for a writer that reads the owner's row: the row as locked."""
        now = utcnow()
        result = await self._session.scalars(
            _locked_statement(self._statements.dialect),
            {"owner_id": owner_id, "first": 1 if bump else 0, "bump": 1 if bump else 0}
            | {"created": now, "updated": now},
            # "orm": one statement with these parameters (given a dict, the ORM would
            # take them for a bulk insert of one row, with its bookkeeping).
            execution_options={"populate_existing": True, "dml_strategy": "orm"},
        )
        owner: Owner = result.one()
        return owner

    async def locked_lapse(self, owner_id: str, *, bump: bool = True) -> datetime | None:
        """`lock`, for a writer of consents: when the owner's next timed consent lapses
        (`Owner.consent_lapses_at`), read by the lock's own statement, on the table."""
        now = utcnow()
        ((lapses_at,),) = await self._statements.rows(
            _locked_lapse_statement(self._statements.dialect),
            {"owner_id": owner_id, "first": 1 if bump else 0, "bump": 1 if bump else 0}
            | {"created": now, "updated": now},
        )
        return cast(datetime | None, lapses_at)

    async def get(self, owner_id: str) -> Owner | None:
        return await self._session.get(Owner, owner_id)

    async def data_version(self, owner_id: str) -> int:
        """The owner's data version; 0 for an owner who never wrote anything."""
        query = select(col(Owner.data_version)).where(col(Owner.id) == owner_id)
        return int((await self._session.execute(query)).scalar_one_or_none() or 0)

    async def with_consent_due(self, now: datetime, limit: int) -> list[str]:
        """Owners with a timed consent that has lapsed by `now`, soonest first."""
        query = (
            select(col(Owner.id))
            .where(col(Owner.consent_lapses_at) <= now)
            .order_by(col(Owner.consent_lapses_at))
            .limit(limit)
        )
        return [str(r) for r in (await self._session.execute(query)).scalars().all()]

    async def set_consent_lapses_at(self, owner_id: str, when: datetime | None) -> None:
        """Keep the owner's earliest `until` (see `locked_lapse`), in one UPDATE."""
        await self._statements.send(
            _SET_CONSENT_LAPSES_AT, {"owner_id": owner_id, "lapses_at": when}
        )

    def set_allowed_providers(self, owner: Owner, providers: Sequence[str] | None) -> None:
        owner.allowed_providers = list(providers) if providers is not None else None
        owner.updated_at = utcnow()
        self._session.add(owner)

    async def set_ai_uses_reference_images(self, owner: Owner, enabled: bool) -> None:
        owner.ai_uses_reference_images = enabled
        owner.updated_at = utcnow()
        self._session.add(owner)


async def version_and_lapse(db: Database, owner_id: str) -> tuple[int, datetime | None]:
    """The owner's data version and when their next timed consent lapses: the read every
    cached answer is checked with, one statement outside any transaction
    (`Database.read_row`). (0, None) for an owner who never wrote anything."""
    query = select(col(Owner.data_version), col(Owner.consent_lapses_at)).where(
        col(Owner.id) == owner_id
    )
    row = await db.read_row(query)
    return (0, None) if row is None else (int(row[0]), row[1])
