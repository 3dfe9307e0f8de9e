"""An export job and an import's outcome, as GraphQL shows them."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from resolvers.lifecycle.purge import PurgeReport
from resolvers.portability.jobs import Export
from resolvers.portability.jobs import ExportStatus as Status
from resolvers.portability.restore import ImportReport
from schema.context import Info
from schema.pool.types import MeImage


@strawberry.enum(description="Where an export stands.")
class ExportStatus(enum.Enum):
    RUNNING = strawberry.enum_value(Status.RUNNING.value, description="Being built.")
    DONE = strawberry.enum_value(Status.DONE.value, description="Ready: see downloadUrl.")
    FAILED = strawberry.enum_value(Status.FAILED.value, description="Failed: start another.")
    EXPIRED = strawberry.enum_value(
        Status.EXPIRED.value, description="Built, but no longer kept: start another."
    )


@strawberry.type(
    description="An archive of the caller's pool and history (images, pool.json, generations, credit ledger), built in the background."
)
class DataExport:
    id: strawberry.ID = strawberry.field(description="Poll `dataExport(id)` with it.")
    status: ExportStatus = strawberry.field(description="Where the export stands.")
    images_total: int = strawberry.field(
        description="Images to write (0 until the build has counted them)."
    )
    images_done: int = strawberry.field(description="Images written so far.")
    byte_size: float | None = strawberry.field(
        description="Size of the finished archive in bytes (a Float: it can pass 2 GiB)."
    )
    download_url: str | None = strawberry.field(
        description="A signed URL of the zip that expires like media URLs; null until DONE."
    )
    failure: str | None = strawberry.field(description="Why it failed, when it did.")
    created_at: datetime = strawberry.field(description="When it was asked for.")
    completed_at: datetime | None = strawberry.field(description="When it finished.")
    expires_at: datetime = strawberry.field(description="When the archive is deleted.")

    @classmethod
    def of(cls, job: Export, info: Info) -> DataExport:
        return cls(
            id=strawberry.ID(job.id),
            status=ExportStatus(job.status.value),
            images_total=job.images_total,
            images_done=job.images_done,
            byte_size=float(job.byte_size) if job.byte_size is not None else None,
            download_url=info.context.absolute(job.download_url) if job.download_url else None,
            failure=job.failure,
            created_at=job.created_at,
            completed_at=job.completed_at,
            expires_at=job.expires_at,
        )


@strawberry.type(description="What an import restored.")
class DataImport:
    images: list[MeImage] = strawberry.field(
        description="The restored images, with new ids, oldest first."
    )
    consent_kept: bool = strawberry.field(
        description="Whether the archive's AI opt-ins were kept (otherwise every image is off)."
    )

    @classmethod
    def of(cls, report: ImportReport) -> DataImport:
        return cls(images=[MeImage.of(i) for i in report.images], consent_kept=report.consent_kept)


@strawberry.type(description="What `deleteMyData` deleted, for good.")
class MyDataDeleted:
    images: int = strawberry.field(description="Images deleted (live and soft-deleted).")
    media: int = strawberry.field(description="Stored files (photos and pictures) deleted.")
    data_keys_destroyed: bool = strawberry.field(
        description="The caller's data keys are destroyed: no copy of their data (a backup "
        "included) can be decrypted any more."
    )

    @classmethod
    def of(cls, report: PurgeReport) -> MyDataDeleted:
        return cls(
            images=report.images,
            media=report.media_objects,
            data_keys_destroyed=report.data_keys_destroyed,
        )
