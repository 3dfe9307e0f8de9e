"""Generation rows (each pending one holds credits) and the credit ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.keys import FieldVault
from storage.tables import (
    GENERATION_ENCRYPTED,
    CreditEntry,
    EntryReason,
    GenerationEncrypted,
    GenerationRecord,
    GenerationStatus,
)

PENDING = GenerationStatus.PENDING.value
WELCOME = EntryReason.WELCOME.value


class IdempotencyKeyTaken(Exception):
    """Another call inserted a generation with the same idempotency key first."""


class GenerationRepository:
    def __init__(self, session: AsyncSession, vault: FieldVault) -> None:
        self._session = session
        self._vault = vault

    async def keyed(self, owner_id: str, space_id: str, key: str) -> str | None:
        """Id of the owner's generation (in this space) made with this idempotency key."""
        query = select(col(GenerationRecord.id)).where(
            col(GenerationRecord.owner_id) == owner_id,
            col(GenerationRecord.space_id) == space_id,
            col(GenerationRecord.idempotency_key) == key,
        )
        found = (await self._session.execute(query)).scalar_one_or_none()
        return str(found) if found is not None else None

    async def insert(self, record: GenerationRecord, secrets: GenerationEncrypted) -> None:
        """Seal the encrypted fields into the new row and write it; raises
        IdempotencyKeyTaken if the unique index refuses it."""
        values = {name: getattr(secrets, name) for name in GENERATION_ENCRYPTED.names()}
        await self._vault.seal(self._session, GENERATION_ENCRYPTED, record, values)
        self._session.add(record)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise IdempotencyKeyTaken() from exc

    async def open(self, record: GenerationRecord) -> GenerationEncrypted:
        """The row's encrypted fields in plaintext; raises DecryptionError."""
        return await self._vault.open_row(self._session, GENERATION_ENCRYPTED, record)

    async def get(self, generation_id: str, *, fresh: bool = False) -> GenerationRecord | None:
        """A row by id; `fresh` reads it again even if this session has it already."""
        return await self._session.get(GenerationRecord, generation_id, populate_existing=fresh)

    async def owned(
        self, owner_id: str, space_id: str, generation_id: str
    ) -> GenerationRecord | None:
        query = select(GenerationRecord).where(
            col(GenerationRecord.id) == generation_id,
            col(GenerationRecord.owner_id) == owner_id,
            col(GenerationRecord.space_id) == space_id,
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def owned_many(
        self, owner_id: str, space_id: str, generation_ids: Sequence[str]
    ) -> list[GenerationRecord]:
        """The rows among `generation_ids` that are the owner's in the space (any order)."""
        if not generation_ids:
            return []
        query = select(GenerationRecord).where(
            col(GenerationRecord.id).in_(list(generation_ids)),
            col(GenerationRecord.owner_id) == owner_id,
            col(GenerationRecord.space_id) == space_id,
        )
        return list((await self._session.execute(query)).scalars().all())

    async def page(
        self,
        owner_id: str,
        space_id: str,
        limit: int,
        cursor: GenerationRecord | None,
        *,
        backward: bool = False,
    ) -> list[GenerationRecord]:
        """Newest first, `limit` rows: those older than `cursor` when given; `backward`,
        the `limit` rows just newer than it (still listed newest first)."""
        position = tuple_(col(GenerationRecord.created_at), col(GenerationRecord.id))
        order = (col(GenerationRecord.created_at), col(GenerationRecord.id))
        query = (
            select(GenerationRecord)
            .where(
                col(GenerationRecord.owner_id) == owner_id,
                col(GenerationRecord.space_id) == space_id,
            )
            .order_by(*(o.asc() if backward else o.desc() for o in order))
            .limit(limit)
        )
        if cursor is not None:
            anchor = tuple_(cursor.created_at, cursor.id)
            query = query.where(position > anchor if backward else position < anchor)
        rows = list((await self._session.execute(query)).scalars().all())
        return rows[::-1] if backward else rows

    def save(self, record: GenerationRecord) -> None:
        self._session.add(record)

    async def renew(self, generation_id: str, now: datetime) -> None:
        """The heartbeat of a pending generation."""
        await self._session.execute(
            update(GenerationRecord)
            .where(
                col(GenerationRecord.id) == generation_id,
                col(GenerationRecord.status) == PENDING,
            )
            .values(heartbeat_at=now)
        )

    async def stale(self, cutoff: datetime, limit: int) -> list[tuple[str, str]]:
        """(id, owner id) of pending generations not renewed since `cutoff`, oldest first."""
        query = (
            select(col(GenerationRecord.id), col(GenerationRecord.owner_id))
            .where(
                col(GenerationRecord.status) == PENDING,
                col(GenerationRecord.heartbeat_at) < cutoff,
            )
            .order_by(col(GenerationRecord.heartbeat_at))
            .limit(limit)
        )
        return [(str(r[0]), str(r[1])) for r in (await self._session.execute(query)).all()]


class CreditLedger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def totals(self, owner_id: str) -> tuple[int, bool]:
        """The sum of the owner's entries, and whether the welcome entry is among them."""
        welcomed = func.sum(case((col(CreditEntry.reason) == WELCOME, 1), else_=0))
        query = select(
            func.coalesce(func.sum(col(CreditEntry.delta)), 0), func.coalesce(welcomed, 0)
        ).where(col(CreditEntry.owner_id) == owner_id)
        total, welcome_count = (await self._session.execute(query)).one()
        return int(total), bool(welcome_count)

    async def held(self, owner_id: str, since: datetime) -> int:
        """Credits held by the owner's pending generations created after `since`."""
        query = select(func.coalesce(func.sum(col(GenerationRecord.credits_held)), 0)).where(
            col(GenerationRecord.owner_id) == owner_id,
            col(GenerationRecord.status) == PENDING,
            col(GenerationRecord.created_at) > since,
        )
        return int((await self._session.execute(query)).scalar_one())

    async def welcomed(self, owner_id: str) -> bool:
        query = select(col(CreditEntry.id)).where(
            col(CreditEntry.owner_id) == owner_id, col(CreditEntry.reason) == WELCOME
        )
        return (await self._session.execute(query)).first() is not None

    async def add(self, entry: CreditEntry) -> None:
        self._session.add(entry)
        await self._session.flush()
