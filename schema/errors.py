"""The one error path, declared: the GraphQL error interface, the error types every
capability shares, and `@represents`, with which each error type names the domain error
class it represents. The table is read in `schema.error_map`; the errors
that end a subscription are declared here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.types.base import StrawberryObjectDefinition

from resolvers import errors as domain
from resolvers import rate_limits
from resolvers.events import cursors
from resolvers.media.sanitising import Rejection
from schema.enums import ErrorCode, MediaRejection


@strawberry.interface(description="An error the client can act on.")
class Error:
    code: ErrorCode = strawberry.field(description="Stable machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")

    @classmethod
    def of(cls, error: domain.DomainError) -> Error:
        """Build from the domain error: every field beyond code and message is the domain
        error's attribute of the same name (absent means null)."""
        return cls(code=ErrorCode(error.code), message=error.message, **details_of(cls, error))


@dataclass(frozen=True)
class Representation:
    error_type: type[Error]
    http_status: int


REPRESENTED: dict[type[domain.DomainError], Representation] = {}
E = TypeVar("E", bound=type[Error])


def represents(domain_error: type[domain.DomainError], *, http_status: int) -> Callable[[E], E]:
    """Register a GraphQL error type as the one representation of a domain error class
    (and its subclasses); `http_status` is what the REST routes answer with."""

    def register(error_type: E) -> E:
        if domain_error in REPRESENTED:
            raise TypeError(f"{domain_error.__name__} is already represented")
        REPRESENTED[domain_error] = Representation(error_type, http_status)
        return error_type

    return register


def details_of(error_type: type[Error], error: domain.DomainError) -> dict[str, Any]:
    definition: StrawberryObjectDefinition = error_type.__strawberry_definition__  # type: ignore[attr-defined]
    return {
        f.python_name: getattr(error, f.python_name, None)
        for f in definition.fields
        if f.python_name not in ("code", "message")
    }


@represents(domain.NotFound, http_status=404)
@strawberry.type(description="No such object for this caller. Other owners' ids answer the same.")
class NotFoundError(Error):
    pass


@represents(domain.InvalidInput, http_status=400)
@strawberry.type(description="An argument is invalid.")
class InvalidInputError(Error):
    field: str | None = strawberry.field(
        default=None, description="The input field at fault, when there is one."
    )


@represents(domain.TooLarge, http_status=413)
@strawberry.type(description="The file or image exceeds a size limit.")
class TooLargeError(Error):
    max_bytes: int = strawberry.field(description="The largest accepted file size, in bytes.")


@represents(domain.UnsupportedMediaType, http_status=415)
@strawberry.type(
    description="The file is not an accepted image (judged by its bytes): JPEG, PNG, WebP, HEIC/HEIF, AVIF or single-frame GIF."
)
class UnsupportedMediaTypeError(Error):
    reason: MediaRejection | None = strawberry.field(
        default=None, description="What the file was taken for, when the server could tell."
    )

    @classmethod
    def of(cls, error: domain.DomainError) -> Error:
        reason = getattr(error, "reason", None)
        return cls(
            code=ErrorCode(error.code),
            message=error.message,
            reason=MediaRejection.of(reason) if isinstance(reason, Rejection) else None,
        )


@represents(rate_limits.RateLimited, http_status=429)
@strawberry.type(
    description="Too many calls of this kind by the owner in a window; nothing was done. Retry after `retryAfter` seconds."
)
class RateLimitedError(Error):
    limit: str = strawberry.field(description="The limit reached, e.g. `10 uploads per minute`.")
    retry_after: int = strawberry.field(
        description="Whole seconds until a retry can succeed (the REST routes' `Retry-After`)."
    )


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
