"""Queries of data portability: export jobs, and an owner's history read whole for export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.tables import CreditEntry, ExportJob, GenerationRecord

_HISTORY_BATCH = 200


class PortabilityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_job(self, job: ExportJob) -> None:
        self._session.add(job)
        await self._session.flush()

    async def job(self, owner_id: str, space_id: str, job_id: str) -> ExportJob | None:
        """The owner's export job in this space; another owner's or space's is None."""
        query = select(ExportJob).where(
            col(ExportJob.id) == job_id,
            col(ExportJob.owner_id) == owner_id,
            col(ExportJob.space_id) == space_id,
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def recent_jobs(self, owner_id: str, space_id: str, limit: int) -> list[ExportJob]:
        """The owner's jobs in this space, newest first."""
        query = (
            select(ExportJob)
            .where(col(ExportJob.owner_id) == owner_id, col(ExportJob.space_id) == space_id)
            .order_by(col(ExportJob.created_at).desc(), col(ExportJob.id).desc())
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars().all())

    async def any_job(self, job_id: str) -> ExportJob | None:
        return await self._session.get(ExportJob, job_id, populate_existing=True)

    async def progress(self, job_id: str, images_done: int, now: datetime) -> None:
        await self._session.execute(
            update(ExportJob)
            .where(col(ExportJob.id) == job_id)
            .values(images_done=images_done, updated_at=now)
        )

    async def expired_jobs(self, now: datetime, limit: int) -> list[ExportJob]:
        query = (
            select(ExportJob)
            .where(col(ExportJob.expires_at) <= now)
            .order_by(col(ExportJob.expires_at))
            .limit(limit)
        )
        return list((await self._session.execute(query)).scalars().all())

    async def owner_jobs(self, owner_id: str) -> list[ExportJob]:
        query = select(ExportJob).where(col(ExportJob.owner_id) == owner_id)
        return list((await self._session.execute(query)).scalars().all())

    async def delete_job(self, job: ExportJob) -> None:
        await self._session.delete(job)

    async def generations(
        self, owner_id: str, space_id: str
    ) -> AsyncIterator[list[GenerationRecord]]:
        """Every generation of the space, oldest first, in batches (keyset paging, so a
        long history is never held in memory at once)."""
        after: tuple[datetime, str] | None = None
        while True:  # bounded: each round moves the key forward or stops
            query = (
                select(GenerationRecord)
                .where(
                    col(GenerationRecord.owner_id) == owner_id,
                    col(GenerationRecord.space_id) == space_id,
                )
                .order_by(col(GenerationRecord.created_at), col(GenerationRecord.id))
                .limit(_HISTORY_BATCH)
            )
            if after is not None:
                query = query.where(
                    (col(GenerationRecord.created_at) > after[0])
                    | (
                        (col(GenerationRecord.created_at) == after[0])
                        & (col(GenerationRecord.id) > after[1])
                    )
                )
            batch = list((await self._session.execute(query)).scalars().all())
            if not batch:
                return
            yield batch
            after = (batch[-1].created_at, batch[-1].id)

    async def credit_entries(self, owner_id: str) -> list[CreditEntry]:
        """The owner's whole ledger, oldest first (amounts and notes only, no content)."""
        query = (
            select(CreditEntry)
            .where(col(CreditEntry.owner_id) == owner_id)
            .order_by(col(CreditEntry.created_at), col(CreditEntry.id))
        )
        return list((await self._session.execute(query)).scalars().all())
