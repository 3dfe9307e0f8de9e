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
        return DataExport.of(job)
