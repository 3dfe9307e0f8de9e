"""Typed errors: members of mutation result unions, all sharing the `Error` interface."""

from __future__ import annotations

import strawberry

from resolvers import errors as domain
from resolvers.media.sanitising import Rejection
from schema.enums import ErrorCode, MediaRejection


@strawberry.interface(description="An error the client can act on.")
class Error:
    code: ErrorCode = strawberry.field(description="Stable machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")


@strawberry.type(description="No such object for this caller. Other owners' ids answer the same.")
class NotFoundError(Error):
    pass


@strawberry.type(description="An argument is invalid.")
class InvalidInputError(Error):
    field: str | None = strawberry.field(
        default=None, description="The input field at fault, when there is one."
    )


@strawberry.type(description="The file or image exceeds a size limit.")
class TooLargeError(Error):
    max_bytes: int = strawberry.field(description="The largest accepted file size, in bytes.")


@strawberry.type(description="The file is not a JPEG, PNG or WebP image (judged by its bytes).")
class UnsupportedMediaTypeError(Error):
    reason: MediaRejection | None = strawberry.field(
        default=None, description="What the file was taken for, when the server could tell."
    )


def to_graphql(error: domain.DomainError) -> Error:
    if isinstance(error, domain.NotFound):
        return NotFoundError(code=ErrorCode.NOT_FOUND, message=error.message)
    if isinstance(error, domain.InvalidInput):
        return InvalidInputError(
            code=ErrorCode.INVALID_INPUT, message=error.message, field=error.field
        )
    if isinstance(error, domain.TooLarge):
        return TooLargeError(
            code=ErrorCode.TOO_LARGE, message=error.message, max_bytes=error.max_bytes
        )
    if isinstance(error, domain.UnsupportedMediaType):
        reason = getattr(error, "reason", None)
        return UnsupportedMediaTypeError(
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            message=error.message,
            reason=MediaRejection.of(reason) if isinstance(reason, Rejection) else None,
        )
    raise error
