"""Export and import of the caller's data in the active space."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload

from resolvers.lifecycle import self_deletion
from resolvers.portability import jobs, restore
from schema.context import Info
from schema.errors import InvalidInputError
from schema.pool.errors import PoolFullError
from schema.portability.errors import InvalidArchiveError, SelfDeletionDisabledError
from schema.portability.types import DataExport, DataImport, MyDataDeleted

ImportMyDataResult = Annotated[
    DataImport | InvalidArchiveError | PoolFullError,
    strawberry.union("ImportMyDataResult", description="What was restored, or why nothing was."),
]

DeleteMyDataResult = Annotated[
    MyDataDeleted | InvalidInputError | SelfDeletionDisabledError,
    strawberry.union(
        "DeleteMyDataResult",
        description="What was deleted, or why nothing was (a wrong confirmation, or a server "
        "that keeps deletion for its operator).",
    ),
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

    @strawberry.mutation(
        description="Delete everything of the caller, in every space, for good: images, their "
        "bytes, history, exports, and the data keys (so backups cannot be read either), as "
        "the operator's `meimages purge --user` does. `confirmation` must be "
        f"`{self_deletion.CONFIRMATION}`. The token stays valid and sees an empty pool."
    )
    async def delete_my_data(self, info: Info, confirmation: str) -> DeleteMyDataResult:
        stores, caller = info.context.stores, info.context.require_caller()
        report = await self_deletion.delete_my_data(stores, caller, confirmation)
        return MyDataDeleted.of(report)
