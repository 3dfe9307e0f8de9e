"""Per-owner credits: a ledger of entries, minus what running generations hold.

Every change happens under the owner lock, so two generations of one owner cannot both
spend the same credits; the hold is the pending generation row itself.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.errors import InvalidInput
from resolvers.generation.config import GenerationConfig
from resolvers.owners import lock_owner
from resolvers.stores import Stores
from storage.db import Database
from storage.tables import CreditEntry, GenerationRecord, utcnow

MAX_GRANT = 1_000_000_000


class EntryReason(enum.StrEnum):
    WELCOME = "welcome"
    GRANT = "grant"
    GENERATION = "generation"


class GenerationStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


async def available(
    session: AsyncSession, owner_id: str, config: GenerationConfig, now: datetime | None = None
) -> int:
    """Ledger sum (plus the starting balance not yet written) minus live holds."""
    now = now or utcnow()
    total, welcomed = (
        await session.execute(
            select(
                func.coalesce(func.sum(CreditEntry.delta), 0),
                func.coalesce(
                    func.sum(case((CreditEntry.reason == EntryReason.WELCOME.value, 1), else_=0)),  # type: ignore[arg-type]
                    0,
                ),
            ).where(CreditEntry.owner_id == owner_id)  # type: ignore[arg-type]
        )
    ).one()
    held = (
        await session.execute(
            select(func.coalesce(func.sum(GenerationRecord.credits_held), 0)).where(
                GenerationRecord.owner_id == owner_id,  # type: ignore[arg-type]
                GenerationRecord.status == GenerationStatus.PENDING.value,  # type: ignore[arg-type]
                GenerationRecord.created_at > now - timedelta(seconds=config.hold_ttl_s),  # type: ignore[arg-type]
            )
        )
    ).scalar_one()
    starting = 0 if welcomed else config.initial_credits
    return int(total) + starting - int(held)


async def ensure_welcome(session: AsyncSession, owner_id: str, config: GenerationConfig) -> None:
    """Write the starting balance once (caller holds the owner lock; the index backs it)."""
    exists = (
        await session.execute(
            select(CreditEntry.id).where(  # type: ignore[call-overload]
                CreditEntry.owner_id == owner_id,
                CreditEntry.reason == EntryReason.WELCOME.value,
            )
        )
    ).first()
    if exists is None:
        session.add(
            CreditEntry(
                owner_id=owner_id,
                delta=config.initial_credits,
                reason=EntryReason.WELCOME.value,
                created_at=utcnow(),
            )
        )
        await session.flush()


async def balance(stores: Stores, owner_id: str) -> int:
    async with stores.db.session() as session:
        return await available(session, owner_id, stores.generation)


async def grant(
    db: Database, config: GenerationConfig, owner_id: str, amount: int, note: str | None = None
) -> int:
    """An administrator adds credits; returns the owner's available balance afterwards."""
    if not 0 < amount <= MAX_GRANT:
        raise InvalidInput(f"grant between 1 and {MAX_GRANT} credits", field="amount")
    async with db.transaction() as session:
        await lock_owner(session, owner_id)
        await ensure_welcome(session, owner_id, config)
        session.add(
            CreditEntry(
                owner_id=owner_id,
                delta=amount,
                reason=EntryReason.GRANT.value,
                note=note[:200] if note else None,
                created_at=utcnow(),
            )
        )
        await session.flush()
        return await available(session, owner_id, config)


async def show(db: Database, config: GenerationConfig, owner_id: str) -> int:
    async with db.session() as session:
        return await available(session, owner_id, config)


def charge_entry(owner_id: str, generation_id: str, amount: int) -> CreditEntry:
    return CreditEntry(
        owner_id=owner_id,
        delta=-amount,
        reason=EntryReason.GENERATION.value,
        generation_id=generation_id,
        created_at=utcnow(),
    )
