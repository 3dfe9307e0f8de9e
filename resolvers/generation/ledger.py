"""The usage ledger: every reference sent to a provider, shown to its owner.

Rows are written in the transaction that records a generation's outcome (one per
reference, never for a refusal or a replay) and live as long as the generation does,
also after the image was deleted; purging the owner removes them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from resolvers import paging
from resolvers.config.generation import ProviderKind
from resolvers.errors import InvalidInput
from resolvers.generation.recipients import Recipient
from resolvers.stores import Caller, Stores
from storage.tables import ReferenceUse, aware
from storage.tables import UseOutcome as UseOutcome  # declared with the table

MAX_PAGE = 100


@dataclass(frozen=True)
class Sending:
    """Which references a generation sends, and to whom."""

    recipient: Recipient
    reference_ids: Sequence[str]

    def rows(
        self, caller: Caller, generation_id: str, model: str, outcome: UseOutcome, at: datetime
    ) -> list[ReferenceUse]:
        return [
            ReferenceUse(
                owner_id=caller.owner_id,
                space_id=caller.space_id,
                image_id=image_id,
                generation_id=generation_id,
                provider=self.recipient.kind.value,
                model=model,
                host=self.recipient.host,
                outcome=outcome.value,
                used_at=at,
            )
            for image_id in self.reference_ids
        ]


@dataclass(frozen=True)
class Use:
    id: str
    space_id: str
    image_id: str
    generation_id: str
    provider: ProviderKind
    model: str
    host: str
    outcome: UseOutcome
    used_at: datetime

    @property
    def cursor(self) -> str:
        raw = f"{self.used_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode()


@dataclass(frozen=True)
class UsePage:
    uses: list[Use]
    has_next_page: bool
    has_previous_page: bool = False


@dataclass(frozen=True)
class RecipientSummary:
    provider: ProviderKind
    host: str
    uses: int
    images: int
    last_used_at: datetime


def _use(row: ReferenceUse) -> Use:
    return Use(
        id=row.id,
        space_id=row.space_id,
        image_id=row.image_id,
        generation_id=row.generation_id,
        provider=ProviderKind(row.provider),
        model=row.model,
        host=row.host,
        outcome=UseOutcome(row.outcome),
        used_at=aware(row.used_at),
    )


def _position(cursor: str, field: str) -> tuple[datetime, str]:
    try:
        used_at, use_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(used_at), use_id
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput(f"{field} is not a cursor of this list", field=field) from None


async def uses_of(
    stores: Stores,
    caller: Caller,
    image_id: str,
    first: int | None = None,
    after: str | None = None,
    *,
    last: int | None = None,
    before: str | None = None,
) -> UsePage:
    """One image's uses, newest first: `first` after the cursor `after`, or the `last`
    before `before` (see `resolvers.paging`)."""
    found = paging.window(first, after, last, before, maximum=MAX_PAGE)
    cursor = found.cursor
    position = _position(cursor, found.cursor_field) if cursor is not None else None
    async with stores.reading() as read:
        rows = await read.uses.page(
            caller.owner_id,
            caller.space_id,
            image_id,
            found.size + 1,
            position,
            backward=found.backward,
        )
    more = len(rows) > found.size
    rows = rows[1:] if more and found.backward else rows[: found.size]
    uses = [_use(r) for r in rows]
    if found.backward:
        return UsePage(uses, has_next_page=position is not None, has_previous_page=more)
    return UsePage(uses, has_next_page=more, has_previous_page=position is not None)


async def recipients(stores: Stores, caller: Caller) -> list[RecipientSummary]:
    """Every provider and host that ever received an image of the caller's pool."""
    async with stores.reading() as read:
        found = await read.uses.recipients(caller.owner_id, caller.space_id)
    return [
        RecipientSummary(ProviderKind(r.provider), r.host, r.uses, r.images, aware(r.last_used_at))
        for r in found
    ]


async def all_uses(stores: Stores, owner_id: str) -> list[Use]:
    """Every use of the owner's images in all their spaces, oldest first (the data export)."""
    async with stores.reading() as read:
        rows = await read.uses.all_of_owner(owner_id)
    return [_use(r) for r in rows]
