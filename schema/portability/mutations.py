"""Export and import of the caller's data in the active space."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload

from resolvers.portability import jobs, restore
from schema.context import Info
from schema.pool.errors import PoolFullError
from schema.portability.errors import InvalidArchiveError
from schema.portability.types import DataExport, DataImport

ImportMyDataResult = Annotated[
    DataImport | InvalidArchiveError | PoolFullError,
    strawberry.union("ImportMyDataResult", description="What was restored, or why nothing was."),
]


@strawberry.type
class PortabilityMutation:
    @strawberry.mutation(
        description="Start building a zip of the caller's pool and history; poll `dataExport(id)` until it is DONE, then fetch its downloadUrl."
    )
    async def export_my_data(self, info: Info) -> DataExport:
        job = await jobs.start_export(info.context.stores, info.context.require_caller())
        return DataExport.of(job, info)

    @strawberry.mutation(
        description="Restore an export (multipart upload of the zip) into the caller's pool: all or nothing. Images arrive with AI use off unless keepConsent is true."
    )
    async def import_my_data(
        self, info: Info, file: Upload, keep_consent: bool = False
    ) -> ImportMyDataResult:
        stores, caller = info.context.stores, info.context.require_caller()
        # Starlette spooled the upload to a temporary file; zipfile reads it in place.
        source = file.file  # type: ignore[attr-defined]
        report = await restore.import_archive(stores, caller, source, keep_consent=keep_consent)
        return DataImport.of(report)
