"""A caller's generations as recorded: one by id, or a page of them, newest first."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from resolvers import paging
from resolvers.errors import InvalidInput, NotFound
from resolvers.generation.pricing import Quality, Size
from resolvers.generation.provenance import ContentCredentials
from resolvers.stores import Caller, Stores
from storage.repositories import UnitOfWork
from storage.tables import GenerationRecord, GenerationStatus, aware, utcnow

MAX_PAGE = paging.MAX_PAGE
DEFAULT_PAGE = paging.DEFAULT_PAGE

# Cursors are opaque to clients; inside, a version tag and the generation id. A cursor
# only names a position in its owner's history (looked up by owner and space).
_CURSOR_TAG = "generation:v1:"


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
    # The inpainting mask as sent (RGBA PNG, the first reference's prepared size).
    mask: bytes | None = None


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
        seconds=stores.config.generation.hold_ttl_s
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
        mask=base64.b64decode(secrets.mask) if secrets.mask else None,
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
    has_previous: bool = False

    @property
    def start_cursor(self) -> str | None:
        return cursor_of(self.items[0].id) if self.items else None

    @property
    def end_cursor(self) -> str | None:
        """The cursor of the last item, to ask for the page after it; None when empty."""
        return cursor_of(self.items[-1].id) if self.items else None


def cursor_of(generation_id: str) -> str:
    """The opaque cursor of this generation's place in its owner's history."""
    return paging.encode(_CURSOR_TAG, generation_id)


async def list_generations(
    stores: Stores,
    caller: Caller,
    first: int | None = None,
    after: str | None = None,
    *,
    last: int | None = None,
    before: str | None = None,
) -> GenerationPage:
    """The caller's generations in the active space, newest first: `first` (1..MAX_PAGE,
    default DEFAULT_PAGE) of them after the cursor `after`, or the `last` of them before
    the cursor `before` (see `resolvers.paging`).

    A malformed cursor, and a cursor of a generation the caller does not have in this
    space (another owner's, another space's), are the same InvalidInput on the argument.
    """
    found = paging.window(first, after, last, before, default=DEFAULT_PAGE, maximum=MAX_PAGE)
    async with stores.reading() as read:
        position = None
        if found.cursor is not None:
            field = found.cursor_field
            generation_id = paging.decode(_CURSOR_TAG, found.cursor, field)
            position = await read.generations.owned(caller.owner_id, caller.space_id, generation_id)
            if position is None:
                raise InvalidInput(f"{field} is not a cursor of this list", field=field)
        # One row more than asked tells whether another page follows.
        rows = await read.generations.page(
            caller.owner_id, caller.space_id, found.size + 1, position, backward=found.backward
        )
        more = len(rows) > found.size
        rows = rows[1:] if more and found.backward else rows[: found.size]
        items = [await to_generation(stores, read, row) for row in rows]
    # Past a cursor lies at least the generation it names: a flag the other direction
    # gets for free (Relay lets a server answer false where it would cost a query).
    if found.backward:
        return GenerationPage(items, has_next=position is not None, has_previous=more)
    return GenerationPage(items, has_next=more, has_previous=position is not None)
