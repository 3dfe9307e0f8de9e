"""The pool cap: how many live images one owner may keep in one space.

Checked where an image is inserted, in the same transaction and under the owner lock
that serializes every write of the owner (`OwnerRepository.lock`: a row lock on
PostgreSQL, the single writer on SQLite), so concurrent uploads cannot overshoot it.
Upload doors also ask early (`ensure_room`), before any bytes are decoded or stored;
that early answer is advice, the check under the lock is the rule.
"""

from __future__ import annotations

from resolvers.errors import DomainError
from resolvers.stores import Caller, Stores
from storage.repositories import UnitOfWork


class PoolFull(DomainError):
    """The pool holds as many live images as the server allows."""

    code = "POOL_FULL"

    def __init__(self, cap: int) -> None:
        super().__init__(
            f"the pool already holds {cap} images, the most this server keeps per space; "
            "delete some to add more"
        )
        self.cap = cap


async def check_room(tx: UnitOfWork, caller: Caller, cap: int) -> None:
    """Refuse one more image; the caller holds the owner lock."""
    if await tx.pool.live_count(caller.owner_id, caller.space_id) >= cap:
        raise PoolFull(cap)


async def ensure_room(stores: Stores, caller: Caller) -> None:
    """Refuse an upload into a full pool before its bytes are processed (unlocked, advisory)."""
    async with stores.reading() as read:
        await check_room(read, caller, stores.config.limits.pool_cap)
