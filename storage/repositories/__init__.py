"""Repositories: all SQL of the domain, behind typed methods.

The domain decides where a transaction begins and ends; inside it, it talks to the
repositories of one `UnitOfWork`, which share the transaction's session:

    async with transaction(db, vault) as tx:
        await tx.owners.lock(owner_id)
        stored = await tx.pool.live_image(owner_id, space_id, image_id)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database, TableStatements
from storage.keys import FieldVault
from storage.repositories.blobs import BlobRegistry
from storage.repositories.events import EventLogRepository
from storage.repositories.generations import CreditLedger, GenerationRepository
from storage.repositories.lifecycle import LifecycleRepository
from storage.repositories.media import MediaRepository
from storage.repositories.owners import OwnerRepository
from storage.repositories.pool import PoolRepository
from storage.repositories.portability import PortabilityRepository
from storage.repositories.uses import ReferenceUseRepository


class UnitOfWork:
    """Every repository over one session: one transaction, or one read."""

    def __init__(
        self,
        session: AsyncSession,
        vault: FieldVault | None = None,
        statements: TableStatements | None = None,
    ) -> None:
        self._session = session
        self._vault = vault
        # The transaction's connection, shared by the repositories' statements on tables.
        self.statements = statements if statements is not None else TableStatements(session)

    @property
    def vault(self) -> FieldVault:
        # Credits and owner rows need no keys; everything with encrypted fields does.
        if self._vault is None:
            raise RuntimeError("this unit of work was opened without the field vault")
        return self._vault

    @cached_property
    def owners(self) -> OwnerRepository:
        return OwnerRepository(self._session, self.statements)

    @cached_property
    def pool(self) -> PoolRepository:
        return PoolRepository(self._session, self.vault, self.statements)

    @cached_property
    def media(self) -> MediaRepository:
        return MediaRepository(self._session)

    @cached_property
    def blobs(self) -> BlobRegistry:
        return BlobRegistry(self._session)

    @cached_property
    def events(self) -> EventLogRepository:
        return EventLogRepository(self._session, self.statements)

    @cached_property
    def generations(self) -> GenerationRepository:
        return GenerationRepository(self._session, self.vault)

    @cached_property
    def credits(self) -> CreditLedger:
        return CreditLedger(self._session)

    @cached_property
    def uses(self) -> ReferenceUseRepository:
        return ReferenceUseRepository(self._session)

    @cached_property
    def lifecycle(self) -> LifecycleRepository:
        return LifecycleRepository(self._session, self.vault)

    async def finish(self) -> None:
        """Write what the repositories hold back until the end: the logged events."""
        if "events" in self.__dict__:
            await self.events.write_pending()

    @cached_property
    def portability(self) -> PortabilityRepository:
        return PortabilityRepository(self._session)


@asynccontextmanager
async def transaction(db: Database, vault: FieldVault | None = None) -> AsyncIterator[UnitOfWork]:
    """One write transaction: commits on success, rolls back on any exception."""
    async with db.writing() as statements:
        tx = UnitOfWork(statements.session, vault, statements)
        yield tx
        await tx.finish()


@asynccontextmanager
async def reading(db: Database, vault: FieldVault | None = None) -> AsyncIterator[UnitOfWork]:
    """A read-only session (SQLite readers stay in autocommit, see storage.db)."""
    async with db.session() as session:
        yield UnitOfWork(session, vault)
