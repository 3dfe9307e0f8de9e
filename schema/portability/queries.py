"""Progress of the caller's exports."""

from __future__ import annotations

import strawberry

from resolvers.errors import NotFound
from resolvers.portability import jobs
from schema.context import Info
from schema.portability.types import DataExport


@strawberry.type
class PortabilityQuery:
    @strawberry.field(
        description="An export of the caller's in this space, with its progress (null for unknown and foreign ids)."
    )
    async def data_export(self, info: Info, id: strawberry.ID) -> DataExport | None:
        try:
            job = await jobs.export_job(info.context.stores, info.context.require_caller(), str(id))
        except NotFound:
            return None
        return DataExport.of(job, info)

    @strawberry.field(
        description="The caller's exports in this space, newest first (at most 20; expired archives are removed when the next export starts)."
    )
    async def data_exports(self, info: Info) -> list[DataExport]:
        found = await jobs.recent_exports(info.context.stores, info.context.require_caller())
        return [DataExport.of(job, info) for job in found]
