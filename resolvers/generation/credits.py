"""Per-owner credits: a ledger of entries, minus what running generations hold.

Every change happens under the owner lock, so two generations of one owner cannot both
spend the same credits; the hold is the pending generation row itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from resolvers.config.generation import GenerationConfig
from resolvers.errors import InvalidInput
from resolvers.stores import Stores
from storage.db import Database
from storage.repositories import UnitOfWork, reading, transaction
from storage.tables import CreditEntry, EntryReason, GenerationStatus, utcnow

__all__ = ["MAX_GRANT", "EntryReason", "GenerationStatus", "available", "balance", "grant"]

MAX_GRANT = 1_000_000_000


async def available(
    tx: UnitOfWork, owner_id: str, config: GenerationConfig, now: datetime | None = None
) -> int:
    """Ledger sum (plus the starting balance not yet written) minus live holds."""
    now = now or utcnow()
    total, welcomed = await tx.credits.totals(owner_id)
    held = await tx.credits.held(owner_id, since=now - timedelta(seconds=config.hold_ttl_s))
    starting = 0 if welcomed else config.initial_credits
    return total + starting - held


async def ensure_welcome(tx: UnitOfWork, owner_id: str, config: GenerationConfig) -> None:
    """Write the starting balance once (caller holds the owner lock; the index backs it)."""
    if not await tx.credits.welcomed(owner_id):
        await tx.credits.add(
            CreditEntry(
                owner_id=owner_id,
                delta=config.initial_credits,
                reason=EntryReason.WELCOME.value,
                created_at=utcnow(),
            )
        )


async def balance(stores: Stores, owner_id: str) -> int:
    async with stores.reading() as read:
        return await available(read, owner_id, stores.config.generation)


async def grant(
    db: Database, config: GenerationConfig, owner_id: str, amount: int, note: str | None = None
) -> int:
    """An administrator adds credits; returns the owner's available balance afterwards."""
    if not 0 < amount <= MAX_GRANT:
        raise InvalidInput(f"grant between 1 and {MAX_GRANT} credits", field="amount")
    async with transaction(db) as tx:
        await tx.owners.lock(owner_id)
        await ensure_welcome(tx, owner_id, config)
        await tx.credits.add(
            CreditEntry(
                owner_id=owner_id,
                delta=amount,
                reason=EntryReason.GRANT.value,
                note=note[:200] if note else None,
                created_at=utcnow(),
            )
        )
        return await available(tx, owner_id, config)


async def show(db: Database, config: GenerationConfig, owner_id: str) -> int:
    async with reading(db) as read:
        return await available(read, owner_id, config)


def charge_entry(owner_id: str, generation_id: str, amount: int) -> CreditEntry:
    return CreditEntry(
        owner_id=owner_id,
        delta=-amount,
        reason=EntryReason.GENERATION.value,
        generation_id=generation_id,
        created_at=utcnow(),
    )
