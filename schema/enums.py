"""GraphQL enums, mapped one to one onto the domain's."""

from __future__ import annotations

import enum
from typing import cast

import strawberry

from resolvers.me_images import EventType, Kind, Slot


@strawberry.enum(description="What a reference image shows.")
class MeImageKind(enum.Enum):
    FACE = strawberry.enum_value(Kind.FACE.value, description="A face close-up.")
    FULLBODY = strawberry.enum_value(Kind.FULLBODY.value, description="The whole body.")
    HALFBODY = strawberry.enum_value(Kind.HALFBODY.value, description="Waist up.")
    HANDS = strawberry.enum_value(Kind.HANDS.value, description="Hands.")
    REFERENCE = strawberry.enum_value(Kind.REFERENCE.value, description="Any other reference.")

    def to_domain(self) -> Kind:
        return Kind(cast(str, self.value))

    @classmethod
    def of(cls, kind: Kind) -> MeImageKind:
        return cls(kind.value)


@strawberry.enum(
    description="A primary role an image can hold; at most one live image per owner and space holds each."
)
class PrimarySlot(enum.Enum):
    AVATAR = strawberry.enum_value(Slot.AVATAR.value, description="The profile picture.")
    FACE_REF = strawberry.enum_value(
        Slot.FACE_REF.value, description="The main face reference (also the avatar when set)."
    )
    BODY_REF = strawberry.enum_value(Slot.BODY_REF.value, description="The main body reference.")

    def to_domain(self) -> Slot:
        return Slot(cast(str, self.value))

    @classmethod
    def of(cls, slot: Slot) -> PrimarySlot:
        return cls(slot.value)


@strawberry.enum(description="Stable machine-readable codes of the errors a client can act on.")
class ErrorCode(enum.Enum):
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="No such object for this caller (foreign ids look the same)."
    )
    INVALID_INPUT = strawberry.enum_value("INVALID_INPUT", description="An argument is invalid.")
    TOO_LARGE = strawberry.enum_value(
        "TOO_LARGE", description="The file or image exceeds a size limit."
    )
    UNSUPPORTED_MEDIA_TYPE = strawberry.enum_value(
        "UNSUPPORTED_MEDIA_TYPE", description="The file is not a JPEG, PNG or WebP image."
    )


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
