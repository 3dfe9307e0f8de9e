"""What the resolvers work with: the caller, and the stores of one running server.

`Stores` holds, in this order: the connections (database, field vault, blob store, event
notifier, rate counters, erasure journal); the configuration of the rules
(`resolvers.config.Configuration`: limits, generation, signing, portability, rate limits);
the per-process read caches (`ReadCaches`); and the clock and observer the rules answer to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from resolvers.cache_budget import BudgetedCache, CacheBudget, Sizing
from resolvers.clock import Clock, WallClock
from resolvers.config import Configuration
from resolvers.limits import Limits
from resolvers.observer import NullObserver, Observer
from resolvers.shared_reads import SharedReads
from storage.blobs import BlobStore
from storage.db import Database
from storage.erasures import ErasureJournal
from storage.eventlog.fanout import EventNotifier
from storage.keys import FieldVault
from storage.rate_counters import RateCounters
from storage.repositories import UnitOfWork, reading, transaction
from storage.sealed import SealedBlobStore

__all__ = ["PERSONAL_SPACE", "Caller", "Configuration", "Limits", "ReadCaches", "Stores"]

PERSONAL_SPACE = "personal"


@dataclass(frozen=True)
class Caller:
    """An authenticated owner acting in one space (their personal space unless the token says)."""

    owner_id: str
    space_id: str = PERSONAL_SPACE


@dataclass
class ReadCaches:
    """What this process remembers of its reads; each entry is checked against the
    owner's data version before it is used, so none is ever served stale.

    `budget` is the byte budget of every cache of the server (`resolvers.cache_budget`):
    these two, and the ones the doors above add to it (query answers, documents, plans).
    """

    budget: CacheBudget = field(default_factory=CacheBudget)
    # owner id -> (database change stamp, data version, consent lapses at) as last read;
    # see pool.owners.data_version.
    owner_versions: BudgetedCache[str, tuple[int, int, datetime | None]] = field(init=False)
    # (owner, space) -> decoded pool at a data version: a `pool.me_images.PoolSnapshot`,
    # which that module checks on the way out (it builds on this one, so the type cannot
    # be named here without an import circle).
    pool_snapshots: BudgetedCache[tuple[str, str], object] = field(init=False)
    # owner id -> the read of their data version under way: concurrent requests of one
    # owner share it, if it began after they arrived (see pool.owners.data_version).
    version_reads: SharedReads[str, tuple[int, datetime | None]] = field(
        default_factory=SharedReads
    )

    def __post_init__(self) -> None:
        self.owner_versions = self.budget.cache(
            "owner_versions", Sizing.ESTIMATED, max_entries=100_000
        )
        self.pool_snapshots = self.budget.cache("pool_snapshots", Sizing.ESTIMATED)


@dataclass
class Stores:
    # The connections.
    db: Database
    vault: FieldVault
    blobs: BlobStore
    notifier: EventNotifier = field(default_factory=EventNotifier)
    # Per-owner rate counters: in memory unless Redis is set (their limits: `config`).
    rate_counters: RateCounters = field(default_factory=RateCounters)
    # Where erasures are recorded so a restore makes them again (none: not recorded).
    erasures: ErasureJournal | None = None
    # What the operator set; read-only for the rules.
    config: Configuration = field(default_factory=Configuration)
    # What this process remembers of its reads.
    caches: ReadCaches = field(default_factory=ReadCaches)
    # What time it is for the rules that lapse (timed consent); tests replace it.
    clock: Clock = field(default_factory=WallClock)
    # Who hears about uploads, generations and errors (the API's metrics; nobody by default).
    observer: Observer = field(default_factory=NullObserver)

    @property
    def sealed(self) -> SealedBlobStore:
        """Media bytes under their owner's key: every read and write of an owner's
        pictures goes through here, never straight to `blobs` (which holds ciphertext)."""
        return SealedBlobStore(self.blobs, self.db, self.vault)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """One write transaction of the domain: the repositories, all on one session."""
        async with transaction(self.db, self.vault) as tx:
            yield tx

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """The repositories for reads (no transaction is held open)."""
        async with reading(self.db, self.vault) as read:
            yield read
