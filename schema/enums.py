"""GraphQL enums shared by several capabilities, mapped one to one onto the domain's."""

from __future__ import annotations

import enum
from typing import cast

import strawberry

from resolvers import errors, rate_limits
from resolvers.events import cursors
from resolvers.generation import errors as generation_errors
from resolvers.lifecycle import self_deletion
from resolvers.media.sanitising import Rejection
from resolvers.media.transforms import Fit, OutputFormat
from resolvers.pool import cap
from resolvers.pool.me_images import Kind, Order, Slot
from resolvers.portability import errors as portability_errors


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
        # A dict lookup: enum value lookups are slow and run per image in list queries.
        return _KINDS[kind]


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
        return _SLOTS[slot]


@strawberry.enum(description="The order of an image list, by when each image was added.")
class ImageOrder(enum.Enum):
    NEWEST_FIRST = strawberry.enum_value(
        Order.NEWEST_FIRST.value, description="The most recently added image first (the default)."
    )
    OLDEST_FIRST = strawberry.enum_value(
        Order.OLDEST_FIRST.value, description="The first added image first."
    )

    def to_domain(self) -> Order:
        return Order(cast(str, self.value))


_KINDS = {kind: MeImageKind(kind.value) for kind in Kind}
_SLOTS = {slot: PrimarySlot(slot.value) for slot in Slot}


@strawberry.enum(description="Stable machine-readable codes of the errors a client can act on.")
class ErrorCode(enum.Enum):
    # Each value is the domain error's own code (declared once, in resolvers); a test checks
    # that the member names match and that every domain error has exactly one member.
    NOT_FOUND = strawberry.enum_value(
        errors.NotFound.code,
        description="No such object for this caller (foreign ids look the same).",
    )
    INVALID_INPUT = strawberry.enum_value(
        errors.InvalidInput.code, description="An argument is invalid."
    )
    TOO_LARGE = strawberry.enum_value(
        errors.TooLarge.code, description="The file or image exceeds a size limit."
    )
    UNSUPPORTED_MEDIA_TYPE = strawberry.enum_value(
        errors.UnsupportedMediaType.code,
        description="The file is not an accepted image: JPEG, PNG, WebP, HEIC/HEIF, AVIF or single-frame GIF.",
    )
    INSUFFICIENT_CREDITS = strawberry.enum_value(
        generation_errors.InsufficientCredits.code,
        description="The caller has fewer credits than the call costs.",
    )
    REFERENCE_NOT_USABLE = strawberry.enum_value(
        generation_errors.ReferenceNotUsable.code,
        description="A reference image may not be sent to AI (one answer for every reason).",
    )
    PROVIDER_NOT_CONFIGURED = strawberry.enum_value(
        generation_errors.ProviderNotConfigured.code,
        description="The server has no credentials for that provider.",
    )
    PROVIDER_FAILED = strawberry.enum_value(
        generation_errors.ProviderFailed.code,
        description="The image provider failed; nothing was charged.",
    )
    PROVIDER_NOT_ALLOWED = strawberry.enum_value(
        generation_errors.ProviderNotAllowed.code,
        description="The owner's or the server's allowlist does not include the model's provider.",
    )
    MASK_NOT_SUPPORTED = strawberry.enum_value(
        generation_errors.MaskNotSupported.code,
        description="The model's provider takes no inpainting mask; nothing was held or sent.",
    )
    CURSOR_TOO_OLD = strawberry.enum_value(
        cursors.CursorTooOld.code,
        description="Events after this cursor are no longer kept: refetch, then subscribe anew.",
    )
    POOL_FULL = strawberry.enum_value(
        cap.PoolFull.code,
        description="The pool holds as many live images as the server allows (`MEIMAGES_POOL_CAP`).",
    )
    TOKEN_EXPIRED = strawberry.enum_value(
        errors.TokenExpired.code,
        description="The token expired during a subscription: reconnect with a fresh one.",
    )
    RATE_LIMITED = strawberry.enum_value(
        rate_limits.RateLimited.code,
        description="Too many calls of this kind in a window: retry after `retryAfter` seconds.",
    )
    INVALID_ARCHIVE = strawberry.enum_value(
        portability_errors.InvalidArchive.code,
        description="An archive offered for import is not a valid meimages export; nothing changed.",
    )
    SELF_DELETION_DISABLED = strawberry.enum_value(
        self_deletion.SelfDeletionDisabled.code,
        description="This server lets only its operator delete a person's data (`MEIMAGES_SELF_DELETION`).",
    )


@strawberry.enum(description="How a transformed image fills the requested box.")
class ImageFit(enum.Enum):
    COVER = strawberry.enum_value(
        Fit.COVER.value, description="Exactly the box, cropped to fill it."
    )
    CONTAIN = strawberry.enum_value(
        Fit.CONTAIN.value, description="Exactly the box, the whole image letterboxed inside."
    )
    INSIDE = strawberry.enum_value(
        Fit.INSIDE.value, description="Within the box, aspect ratio kept, never enlarged."
    )

    def to_domain(self) -> Fit:
        return Fit(cast(str, self.value))


@strawberry.enum(description="Encoding of a transformed image.")
class ImageFormat(enum.Enum):
    WEBP = strawberry.enum_value(OutputFormat.WEBP.value, description="WebP (smallest).")
    PNG = strawberry.enum_value(OutputFormat.PNG.value, description="PNG (lossless).")
    JPEG = strawberry.enum_value(OutputFormat.JPEG.value, description="JPEG (no transparency).")

    def to_domain(self) -> OutputFormat:
        return OutputFormat(cast(str, self.value))


@strawberry.enum(description="Why an upload was refused as not an acceptable image.")
class MediaRejection(enum.Enum):
    SVG = strawberry.enum_value(Rejection.SVG.value, description="An SVG file (can carry scripts).")
    HTML = strawberry.enum_value(Rejection.HTML.value, description="HTML or other markup.")
    PDF = strawberry.enum_value(Rejection.PDF.value, description="A PDF document.")
    TIFF = strawberry.enum_value(Rejection.TIFF.value, description="A TIFF image.")
    GIF = strawberry.enum_value(
        Rejection.GIF.value,
        description="No longer given: single-frame GIFs are accepted, animated ones are ANIMATED.",
    )
    HEIF = strawberry.enum_value(
        Rejection.HEIF.value,
        description="A HEIC/HEIF/AVIF container that does not decode (corrupt or an unsupported variant).",
    )
    OTHER_IMAGE = strawberry.enum_value(
        Rejection.OTHER_IMAGE.value,
        description="An image format other than JPEG, PNG, WebP, HEIC/HEIF, AVIF, GIF.",
    )
    NOT_AN_IMAGE = strawberry.enum_value(
        Rejection.NOT_AN_IMAGE.value, description="Not an image at all."
    )
    ANIMATED = strawberry.enum_value(
        Rejection.ANIMATED.value,
        description="An animated or multi-image file (GIF, APNG, WebP, HEIF/AVIF sequences, several images in one HEIC).",
    )
    COMPRESSED_TEXT_BOMB = strawberry.enum_value(
        Rejection.COMPRESSED_TEXT_BOMB.value,
        description="Embedded text or profile data that inflates far beyond any real photo's.",
    )
    CORRUPT = strawberry.enum_value(Rejection.CORRUPT.value, description="Truncated or corrupt.")
    TIMEOUT = strawberry.enum_value(
        Rejection.TIMEOUT.value, description="Took too long to decode; the server may be busy."
    )

    @classmethod
    def of(cls, reason: Rejection) -> MediaRejection:
        return cls(reason.value)
