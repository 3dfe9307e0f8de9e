"""A caller's generations as recorded: one by id, or a page of them, newest first."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from resolvers.errors import InvalidInput, NotFound
from resolvers.generation.pricing import Quality, Size
from resolvers.generation.provenance import ContentCredentials
from resolvers.stores import Caller, Stores
from storage.repositories import UnitOfWork
from storage.tables import GenerationRecord, GenerationStatus, aware, utcnow

MAX_PAGE = 100
DEFAULT_PAGE = 20

# Cursors are opaque to clients; inside, a version tag and the generation id. A cursor
# only names a position in its owner's history (looked up by owner and space).
_CURSOR_TAG = "generation:v1:"
_MAX_CURSOR_CHARS = 200


@dataclass(frozen=True)
class OutputImage:
    """One output image: stored as media, or (only in the response) inline bytes."""

    index: int
    content_type: str
    width: int
    height: int
    media_id: str | None = None
    inline: bytes | None = None
    # What the embedded Content Credentials say; None for outputs made before they
    # existed (or whose signing failed: those carry the XMP mark only).
    credentials: ContentCredentials | None = None


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
            credentials=ContentCredentials.from_json(o.get("credentials")),
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


@dataclass(frozen=True)
class GenerationPage:
    """One page of a caller's history, newest first."""

    items: list[Generation]
    has_next: bool
    # The cursor of the last item, to ask for the page after it; None for an empty page.
    end_cursor: str | None


def cursor_of(generation_id: str) -> str:
    """The opaque cursor that points just after this generation."""
    raw = f"{_CURSOR_TAG}{generation_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _generation_id(cursor: str) -> str:
    """The id inside a cursor; InvalidInput when it is not one of ours."""
    malformed = InvalidInput("after is not a cursor of this list", field="after")
    if not cursor or len(cursor) > _MAX_CURSOR_CHARS:
        raise malformed
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise malformed from None
    if not raw.startswith(_CURSOR_TAG) or not raw[len(_CURSOR_TAG) :]:
        raise malformed
    return raw[len(_CURSOR_TAG) :]


async def list_generations(
    stores: Stores, caller: Caller, first: int = DEFAULT_PAGE, after: str | None = None
) -> GenerationPage:
    """The caller's generations in the active space, newest first: `first` (1..MAX_PAGE)
    of them, after the cursor `after` (an `end_cursor` or an item's `cursor_of`).

    A malformed cursor, and a cursor of a generation the caller does not have in this
    space (another owner's, another space's), are the same InvalidInput on `after`.
    """
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"first is between 1 and {MAX_PAGE}", field="first")
    async with stores.reading() as read:
        position = None
        if after is not None:
            generation_id = _generation_id(after)
            position = await read.generations.owned(caller.owner_id, caller.space_id, generation_id)
            if position is None:
                raise InvalidInput("after is not a cursor of this list", field="after")
        # One row more than asked tells whether another page follows.
        rows = await read.generations.page(caller.owner_id, caller.space_id, first + 1, position)
        items = [await to_generation(stores, read, row) for row in rows[:first]]
    return GenerationPage(
        items=items,
        has_next=len(rows) > first,
        end_cursor=cursor_of(items[-1].id) if items else None,
    )
