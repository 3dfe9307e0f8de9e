"""Query-shape limits and error hygiene, as Strawberry extensions (one job each)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from resolvers.errors import DomainError
from schema.context import NotAuthenticated

log = logging.getLogger("meimages.graphql")

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def should_mask(error: GraphQLError) -> bool:
    """Mask what came from inside a resolver unless it is an error we meant to show."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    if isinstance(original, DomainError | NotAuthenticated):
        return False
    log.error("unexpected error in %s", error.path, exc_info=original)
    return True


class HideSuggestions(SchemaExtension):
    """Production mode: no "Did you mean …?" hints that leak the schema's names."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        for error in result.errors:
            error.message = _SUGGESTION.sub("", error.message)


class MaxErrors(SchemaExtension):
    """Cap the errors in one response, so a hostile document cannot make us write a book."""

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors and len(result.errors) > self.limit:
            result.errors = result.errors[: self.limit]
        pre = self.execution_context.pre_execution_errors
        if pre and len(pre) > self.limit:
            self.execution_context.pre_execution_errors = pre[: self.limit]
