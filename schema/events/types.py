"""Types of the events capability: an image event, and the typed errors that end a stream."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.utils.str_converters import to_camel_case

from resolvers import errors as domain
from resolvers.events import cursors, feed
from resolvers.pool.me_images import EventType, Image, image_uses
from schema.context import Info
from schema.enums import MeImageKind, PrimarySlot
from schema.errors import Error, InvalidInputError, represents
from schema.pool.types import MeImage


@strawberry.enum(description="What happened to an image.")
class MeImageEventType(enum.Enum):
    ADDED = strawberry.enum_value(EventType.ADDED.value, description="An image was added.")
    UPDATED = strawberry.enum_value(
        EventType.UPDATED.value, description="Label, tags, kind or showInProfile changed."
    )
    AI_REFERENCE_TOGGLED = strawberry.enum_value(
        EventType.AI_REFERENCE_TOGGLED.value, description="The AI opt-in of an image changed."
    )
    PRIMARY_CHANGED = strawberry.enum_value(
        EventType.PRIMARY_CHANGED.value, description="An image gained or lost a primary slot."
    )
    DELETED = strawberry.enum_value(EventType.DELETED.value, description="An image was deleted.")

    @classmethod
    def of(cls, type: EventType) -> MeImageEventType:
        return cls(type.value)


@strawberry.type(
    name="MeImageEvent", description="One change of an image in the caller's active space."
)
class MeImageEvent:
    type: MeImageEventType = strawberry.field(description="What happened.")
    image_id: strawberry.ID = strawberry.field(description="Id of the image that changed.")
    kind: MeImageKind | None = strawberry.field(
        description="What the image shows after the change (for DELETED: what it showed). "
        "Null only if the image's data was purged."
    )
    state: strawberry.Private[Image | None]
    slot: PrimarySlot | None = strawberry.field(
        description="PRIMARY_CHANGED: the slot the image holds now; null when it lost its slot."
    )
    previous_slot: PrimarySlot | None = strawberry.field(
        description="PRIMARY_CHANGED: the slot the image held before; DELETED: the slot it lost."
    )
    enabled: bool | None = strawberry.field(
        description="AI_REFERENCE_TOGGLED: the image's new AI opt-in."
    )
    expired: bool | None = strawberry.field(
        description="AI_REFERENCE_TOGGLED: true when the opt-in lapsed by itself at its `until`, false when someone switched it; null for other types."
    )
    changed_fields: list[str] | None = strawberry.field(
        description="UPDATED: the fields that changed (label, tags, kind, showInProfile)."
    )
    occurred_at: datetime = strawberry.field(description="When the change was made.")
    cursor: str = strawberry.field(
        description="Opaque position of this event; subscribe with `after:` it to resume."
    )
    # The logged event's forms, weakly (see schema.events.shared); not a GraphQL field.
    forms: strawberry.Private[feed.FormsRef]

    @strawberry.field(
        description="The image as this change left it (also on replay); null for DELETED. Its useCount and lastUsedAt are the current ones."
    )
    async def image(self, info: Info) -> MeImage | None:
        if self.state is None:
            return None
        caller = info.context.require_caller()
        return MeImage.of(await image_uses(info.context.stores, caller, self.state))

    @classmethod
    def of(cls, event: feed.Event) -> MeImageEvent:
        return cls(
            type=MeImageEventType.of(event.type),
            image_id=strawberry.ID(event.image_id),
            kind=MeImageKind.of(event.kind) if event.kind else None,
            state=event.image,
            slot=PrimarySlot.of(event.slot) if event.slot else None,
            previous_slot=PrimarySlot.of(event.previous_slot) if event.previous_slot else None,
            enabled=event.enabled,
            expired=event.expired if event.type is EventType.AI_REFERENCE_TOGGLED else None,
            changed_fields=(
                [to_camel_case(name) for name in event.fields]
                if event.type is EventType.UPDATED
                else None
            ),
            occurred_at=event.created_at,
            cursor=event.cursor,
            forms=event.forms,
        )


@strawberry.type(
    name="AiUsesReferenceImagesEvent",
    description="The owner's switch `aiUsesReferenceImages` changed. While it is off no image "
    "is offered or sent to AI, whatever its own opt-in says; the per-image opt-ins are kept.",
)
class AiUsesReferenceImagesEvent:
    ai_uses_reference_images: bool = strawberry.field(
        description="The switch's new position (as `Profile.aiUsesReferenceImages`)."
    )
    occurred_at: datetime = strawberry.field(description="When it was switched.")
    cursor: str = strawberry.field(
        description="Opaque position of this event; subscribe with `after:` it to resume."
    )

    # The logged event's forms, weakly (see schema.events.shared); not a GraphQL field.
    forms: strawberry.Private[feed.FormsRef]

    @classmethod
    def of(cls, event: feed.Event) -> AiUsesReferenceImagesEvent:
        return cls(
            ai_uses_reference_images=bool(event.enabled),
            occurred_at=event.created_at,
            cursor=event.cursor,
            forms=event.forms,
        )


# The GraphQL form of an event, one of the logged event's forms: made once for all the
# subscribers handed it.
_GRAPHQL: feed.Form[MeImageEvent | AiUsesReferenceImagesEvent] = feed.Form("graphql object")


def event_of(event: feed.Event) -> MeImageEvent | AiUsesReferenceImagesEvent:
    """The GraphQL form of a logged event: an image's change, or the owner's switch."""
    if event.type.of_image:
        return feed.made(event.forms(), _GRAPHQL, lambda: MeImageEvent.of(event))
    return feed.made(event.forms(), _GRAPHQL, lambda: AiUsesReferenceImagesEvent.of(event))


@represents(cursors.CursorTooOld, http_status=410)
@strawberry.type(
    description="Events after this cursor are no longer kept. Refetch the pool, then subscribe "
    "again from `meImageEventCursor`."
)
class CursorTooOldError(Error):
    pass


@represents(domain.TokenExpired, http_status=401)
@strawberry.type(
    description="The token expired, which ends the subscription. Reconnect with a fresh token "
    "and resume with `after:` the last cursor received."
)
class TokenExpiredError(Error):
    expired_at: datetime = strawberry.field(description="When the token expired.")


MeImageEventResult = Annotated[
    MeImageEvent
    | AiUsesReferenceImagesEvent
    | CursorTooOldError
    | InvalidInputError
    | TokenExpiredError,
    strawberry.union(
        "MeImageEventResult",
        description="An event (an image's change, or the owner's AI switch), or why the "
        "subscription ends (an error is always the last item).",
    ),
]
