"""The one error path: which GraphQL type represents each domain error, and how it is shown.

Each error type names the domain error class it represents with `@represents`. From that
one table follow the typed union members of GraphQL fields (Strawberry's exception
handlers, `exception_handlers`), the typed items that end a subscription (`to_graphql`),
and the REST routes' answers (`describe`).
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import strawberry
from strawberry.types.base import StrawberryObjectDefinition

from resolvers import errors as domain
from resolvers import rate_limits
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
        return cls(code=ErrorCode(error.code), message=error.message, **_details(cls, error))


@dataclass(frozen=True)
class _Entry:
    error_type: type[Error]
    http_status: int


_REPRESENTED: dict[type[domain.DomainError], _Entry] = {}
E = TypeVar("E", bound=type[Error])


def represents(domain_error: type[domain.DomainError], *, http_status: int) -> Callable[[E], E]:
    """Register a GraphQL error type as the one representation of a domain error class
    (and its subclasses); `http_status` is what the REST routes answer with."""

    def register(error_type: E) -> E:
        if domain_error in _REPRESENTED:
            raise TypeError(f"{domain_error.__name__} is already represented")
        _REPRESENTED[domain_error] = _Entry(error_type, http_status)
        return error_type

    return register


def _registry() -> dict[type[domain.DomainError], _Entry]:
    # Each capability package registers its error types when it is imported; the schema's
    # roots import them all, so the table is complete whoever asks first.
    import schema.build  # noqa: F401

    return _REPRESENTED


def represented() -> Mapping[type[domain.DomainError], type[Error]]:
    return {cls: entry.error_type for cls, entry in _registry().items()}


def _entry(error: domain.DomainError) -> _Entry | None:
    registry = _registry()
    for cls in type(error).__mro__:
        entry = registry.get(cls)
        if entry is not None:
            return entry
    return None


def _details(error_type: type[Error], error: domain.DomainError) -> dict[str, Any]:
    definition: StrawberryObjectDefinition = error_type.__strawberry_definition__  # type: ignore[attr-defined]
    return {
        f.python_name: getattr(error, f.python_name, None)
        for f in definition.fields
        if f.python_name not in ("code", "message")
    }


def to_graphql(error: domain.DomainError) -> Error:
    """The GraphQL error type that represents a domain error; raises it again when none does."""
    entry = _entry(error)
    if entry is None:
        raise error
    return entry.error_type.of(error)


@dataclass(frozen=True)
class ErrorDescription:
    """A domain error as a door without GraphQL types shows it (the REST routes)."""

    http_status: int
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def describe(error: domain.DomainError) -> ErrorDescription:
    """Status, code, message and the typed error's other fields (JSON-ready, nulls left out)."""
    entry = _entry(error)
    if entry is None:
        return ErrorDescription(400, error.code, error.message)
    definition: StrawberryObjectDefinition = entry.error_type.__strawberry_definition__  # type: ignore[attr-defined]
    names = {f.python_name: f.graphql_name or _camel(f.python_name) for f in definition.fields}
    extra = {
        names[name]: value.value if isinstance(value, enum.Enum) else value
        for name, value in _details(entry.error_type, error).items()
        if value is not None
    }
    return ErrorDescription(entry.http_status, error.code, error.message, extra)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class _Represent:
    """Strawberry's exception handler for one registered pair: on a field whose result union
    has the error type as a member, the domain error becomes that member; elsewhere (and in
    subscriptions, which `to_graphql` serves) it stays a GraphQL error with `extensions.code`
    (added by `schema.limits.ErrorCodes`)."""

    def __init__(self, exception_type: type[domain.DomainError], error_type: type[Error]) -> None:
        self.exception_type = exception_type
        self.error_type = error_type

    def handle(self, exception: domain.DomainError, *, field: object, info: object) -> Error:
        # A typed result is an error the client sees, only not in `errors`: count it too.
        stores = getattr(getattr(info, "context", None), "stores", None)
        if stores is not None:
            stores.observer.domain_error(exception.code)
        return self.error_type.of(exception)


def exception_handlers() -> list[_Represent]:
    """One handler per registered pair, subclasses first so the closest type wins."""
    pairs = sorted(_registry().items(), key=lambda pair: -len(pair[0].__mro__))
    return [_Represent(cls, entry.error_type) for cls, entry in pairs]


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


def member_of(result: object, error: domain.DomainError) -> Any:
    """The typed error for `error` when it is a member of the `result` union (an
    `Annotated[A | B, strawberry.union(...)]`); otherwise the domain error again.
    Typed `Any`: the union alias arrives as a value, so the checker cannot follow it."""
    members = typing.get_args(typing.get_args(result)[0])
    typed = to_graphql(error)
    if type(typed) not in members:
        raise error
    return typed
