"""A caller's generations as recorded: one by id, or a page of them, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from resolvers.errors import InvalidInput, NotFound
from resolvers.generation.pricing import Quality, Size
from resolvers.stores import Caller, Stores
from storage.repositories import UnitOfWork
from storage.tables import GenerationRecord, GenerationStatus, aware, utcnow

MAX_PAGE = 100


@dataclass(frozen=True)
class OutputImage:
    """One output image: stored as media, or (only in the response) inline bytes."""

    index: int
    content_type: str
    width: int
    height: int
    media_id: str | None = None
    inline: bytes | None = None


@dataclass(frozen=True)
class Generation:
    id: str
    owner_id: str
    space_id: str
    status: GenerationStatus
    prompt: str
    model_requested: str
    model_used: str | None
    quality: Quality
    size: Size
    n: int
    reference_ids: list[str]
    images: list[OutputImage]
    cost: int
    failure: str | None
    warning: str | None
    created_at: datetime
    completed_at: datetime | None


def _outputs(row: GenerationRecord) -> list[OutputImage]:
    return [
        OutputImage(
            index=int(o["index"]),
            content_type=str(o["contentType"]),
            width=int(o["width"]),
            height=int(o["height"]),
            media_id=str(o["mediaId"]),
        )
        for o in row.outputs
    ]


async def to_generation(stores: Stores, tx: UnitOfWork, row: GenerationRecord) -> Generation:
    secrets = await tx.generations.open(row)
    status = GenerationStatus(row.status)
    failure = row.failure
    created = aware(row.created_at)
    if status is GenerationStatus.PENDING and created < utcnow() - timedelta(
        seconds=stores.generation.hold_ttl_s
    ):
        # Its server stopped mid-call; the hold has lapsed and nothing was charged.
        status, failure = GenerationStatus.FAILED, "interrupted"
    return Generation(
        id=row.id,
        owner_id=row.owner_id,
        space_id=row.space_id,
        status=status,
        prompt=str(secrets.prompt),
        model_requested=row.model_requested,
        model_used=row.model_used,
        quality=Quality(row.quality),
        size=Size(row.size),
        n=row.n,
        reference_ids=list(row.reference_ids),
        images=_outputs(row),
        cost=row.credits_charged,
        failure=failure,
        warning=row.warning,
        created_at=created,
        completed_at=aware(row.completed_at) if row.completed_at else None,
    )


async def get_generation(stores: Stores, caller: Caller, generation_id: str) -> Generation:
    async with stores.reading() as read:
        row = await read.generations.owned(caller.owner_id, caller.space_id, generation_id)
        if row is None:
            raise NotFound("Generation")
        return await to_generation(stores, read, row)


async def list_generations(
    stores: Stores, caller: Caller, first: int = 20, after: str | None = None
) -> list[Generation]:
    """Newest first; `after` is the id of the last generation of the previous page."""
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"first is between 1 and {MAX_PAGE}", field="first")
    async with stores.reading() as read:
        cursor = None
        if after is not None:
            cursor = await read.generations.owned(caller.owner_id, caller.space_id, after)
            if cursor is None:
                raise InvalidInput("unknown cursor", field="after")
        rows = await read.generations.page(caller.owner_id, caller.space_id, first, cursor)
        return [await to_generation(stores, read, row) for row in rows]
