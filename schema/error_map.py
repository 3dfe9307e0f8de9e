"""The one error path, read: which GraphQL type represents each domain error, and how it
is shown. From the one table that `@represents` fills (`schema.errors`) follow the typed
union members of GraphQL fields (Strawberry's exception handlers, `exception_handlers`),
the typed items that end a subscription (`to_graphql`), and the REST routes' and MCP's
answers (`describe`). The table is complete once every capability's error types are
imported, which this module does.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strawberry.types.base import StrawberryObjectDefinition

# Every module that declares error types, so the table is complete whoever asks first.
import schema.generation.errors
import schema.pool.errors
import schema.portability.errors
from resolvers import errors as domain
from schema.errors import REPRESENTED, Error, Representation, details_of

_DECLARING = (
    schema.generation.errors,
    schema.pool.errors,
    schema.portability.errors,
)


def _registry() -> dict[type[domain.DomainError], Representation]:
    return REPRESENTED


def represented() -> Mapping[type[domain.DomainError], type[Error]]:
    return {cls: entry.error_type for cls, entry in _registry().items()}


def _entry(error: domain.DomainError) -> Representation | None:
    registry = _registry()
    for cls in type(error).__mro__:
        entry = registry.get(cls)
        if entry is not None:
            return entry
    return None


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
        for name, value in details_of(entry.error_type, error).items()
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


def member_of(result: object, error: domain.DomainError) -> Any:
    """The typed error for `error` when it is a member of the `result` union (an
    `Annotated[A | B, strawberry.union(...)]`); otherwise the domain error again.
    Typed `Any`: the union alias arrives as a value, so the checker cannot follow it."""
    members = typing.get_args(typing.get_args(result)[0])
    typed = to_graphql(error)
    if type(typed) not in members:
        raise error
    return typed
