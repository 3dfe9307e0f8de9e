"""Live changes: the `meImageEvents` subscription and the cursor to start it from."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from resolvers import errors as domain
from resolvers.events import cursors, feed
from resolvers.pool.me_images import EventType
from schema.context import Info
from schema.enums import ErrorCode, MeImageEventType, MeImageKind, PrimarySlot
from schema.errors import Error, InvalidInputError
from schema.types import MeImage


@strawberry.type(
    name="MeImageEvent", description="One change of an image in the caller's active space."
)
class MeImageEvent:
    event: strawberry.Private[feed.Event]

    @strawberry.field(description="What happened.")
    def type(self) -> MeImageEventType:
        return MeImageEventType.of(self.event.type)

    @strawberry.field(description="Id of the image that changed.")
    def image_id(self) -> strawberry.ID:
        return strawberry.ID(self.event.image_id)

    @strawberry.field(
        description="What the image shows after the change (for DELETED: what it showed). "
        "Null only if the image's data was purged."
    )
    def kind(self) -> MeImageKind | None:
        return MeImageKind.of(self.event.kind) if self.event.kind else None

    @strawberry.field(
        description="The image as this change left it (also on replay); null for DELETED."
    )
    def image(self) -> MeImage | None:
        return MeImage.of(self.event.image) if self.event.image else None

    @strawberry.field(
        description="PRIMARY_CHANGED: the slot the image holds now; null when it lost its slot."
    )
    def slot(self) -> PrimarySlot | None:
        return PrimarySlot.of(self.event.slot) if self.event.slot else None

    @strawberry.field(
        description="PRIMARY_CHANGED: the slot the image held before; DELETED: the slot it lost."
    )
    def previous_slot(self) -> PrimarySlot | None:
        return PrimarySlot.of(self.event.previous_slot) if self.event.previous_slot else None

    @strawberry.field(description="AI_REFERENCE_TOGGLED: the image's new AI opt-in.")
    def enabled(self) -> bool | None:
        return self.event.enabled

    @strawberry.field(
        description="UPDATED: the fields that changed (label, tags, kind, showInProfile)."
    )
    def changed_fields(self) -> list[str] | None:
        return list(self.event.fields) if self.event.type is EventType.UPDATED else None

    @strawberry.field(description="When the change was made.")
    def occurred_at(self) -> datetime:
        return self.event.created_at

    @strawberry.field(
        description="Opaque position of this event; subscribe with `after:` it to resume."
    )
    def cursor(self) -> str:
        return self.event.cursor


@strawberry.type(
    description="Events after this cursor are no longer kept. Refetch the pool, then subscribe "
    "again from `meImageEventCursor`."
)
class CursorTooOldError(Error):
    pass


@strawberry.type(
    description="The token expired, which ends the subscription. Reconnect with a fresh token "
    "and resume with `after:` the last cursor received."
)
class TokenExpiredError(Error):
    expired_at: datetime = strawberry.field(description="When the token expired.")


MeImageEventResult = Annotated[
    MeImageEvent | CursorTooOldError | InvalidInputError | TokenExpiredError,
    strawberry.union(
        "MeImageEventResult",
        description="An event, or why the subscription ends (an error is always the last item).",
    ),
]


def _expired(expires_at: float) -> TokenExpiredError:
    return TokenExpiredError(
        code=ErrorCode.TOKEN_EXPIRED,
        message="the token has expired: reconnect with a fresh token and resume from your "
        "last cursor",
        expired_at=datetime.fromtimestamp(expires_at, UTC),
    )


@strawberry.type
class EventsQuery:
    """Where live changes start."""

    @strawberry.field(
        description="The cursor of the newest event in the active space. Read it before the "
        "pool, then subscribe with `after:` it to miss nothing that happens from then on."
    )
    async def me_image_event_cursor(self, info: Info) -> str:
        return await cursors.head_cursor(info.context.stores, info.context.require_caller())


@strawberry.type
class EventsSubscription:
    """Live changes of the caller's pool."""

    @strawberry.subscription(
        description="The caller's image events in the active space, oldest first. With "
        "`after`, every later event is replayed before live ones follow, each exactly once. "
        "Ends with TokenExpiredError when the token expires."
    )
    async def me_image_events(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[MeImageEventResult, None]:
        caller = info.context.require_caller()
        expires_at: float | None = info.context.extra.get("token_exp")
        stream = feed.follow(info.context.stores, caller, after)
        try:
            while True:
                remaining = None if expires_at is None else expires_at - time.time()
                if remaining is not None and remaining <= 0:
                    yield _expired(expires_at or 0)
                    return
                try:
                    async with asyncio.timeout(remaining):
                        event = await anext(stream)
                except TimeoutError:
                    yield _expired(expires_at or 0)
                    return
                except StopAsyncIteration:
                    return
                except cursors.CursorTooOld as exc:
                    yield CursorTooOldError(code=ErrorCode.CURSOR_TOO_OLD, message=exc.message)
                    return
                except domain.InvalidInput as exc:
                    yield InvalidInputError(
                        code=ErrorCode.INVALID_INPUT, message=exc.message, field=exc.field
                    )
                    return
                yield MeImageEvent(event=event)
        finally:
            await stream.aclose()
