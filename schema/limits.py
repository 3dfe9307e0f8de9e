"""Query-shape limits and error hygiene, as Strawberry extensions (one job each)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import DocumentNode, ExecutionResult, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from resolvers.errors import DomainError, InvalidInput, StoreUnavailable
from resolvers.rate_limits import RateLimited
from schema.context import NotAuthenticated

log = logging.getLogger("meimages.graphql")

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
# NUL is refused by PostgreSQL text columns; an unpaired surrogate cannot be encoded at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def should_mask(error: GraphQLError) -> bool:
    """Mask what came from inside a resolver unless it is an error we meant to show."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    if isinstance(original, DomainError | NotAuthenticated):
        return False
    if isinstance(original, StoreUnavailable):
        log.warning("%s: %s", original.message, original.__cause__ or original)
        return False
    log.error("unexpected error in %s", error.path, exc_info=original)
    return True


def _execution_errors(context: ExecutionContext) -> list[GraphQLError]:
    result = context.result
    return list(result.errors) if result is not None and result.errors else []


class HideSuggestions(SchemaExtension):
    """Production mode: no "Did you mean …?" hints that leak the schema's names."""

    def on_operation(self) -> Iterator[None]:
        yield
        for error in _execution_errors(self.execution_context):
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


class ErrorCodes(SchemaExtension):
    """An error we meant to show carries its stable code, so clients can branch on it."""

    def on_operation(self) -> Iterator[None]:
        yield
        for error in _execution_errors(self.execution_context):
            original = error.original_error
            if isinstance(original, DomainError):
                error.extensions = {**(error.extensions or {}), "code": original.code}
                if isinstance(original, RateLimited):  # where no typed member carries it
                    error.extensions["retryAfter"] = original.retry_after
                if isinstance(original, InvalidInput) and original.field is not None:
                    error.extensions["field"] = original.field
            elif isinstance(original, NotAuthenticated):
                error.extensions = {**(error.extensions or {}), "code": "UNAUTHENTICATED"}
            elif isinstance(original, StoreUnavailable):
                error.extensions = {
                    **(error.extensions or {}),
                    "code": original.code,
                    "retryable": True,
                    "retryAfter": original.retry_after_s,
                }


class StorableText(SchemaExtension):
    """Refuse text no database can hold (NUL, unpaired surrogates) before anything runs.

    Such a string sent as an id would otherwise fail inside the database driver, which
    answers with a masked server error instead of saying what is wrong with the input.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if unstorable_text(context.variables, context.graphql_document):
            context.result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "text may not contain NUL characters or unpaired surrogates",
                        extensions={"code": "INVALID_INPUT"},
                    )
                ],
            )
        yield


def unstorable_text(variables: object, document: DocumentNode | None) -> bool:
    """Whether the variables or the document's string literals hold text no database
    can store: what `StorableText` refuses (other paths to execution ask here too)."""
    return _unstorable_value(variables) or (document is not None and _unstorable_literal(document))


def _unstorable_value(value: object) -> bool:
    stack = [value]
    while stack:  # no recursion: variables may nest as deep as the JSON parser allowed
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        self.found = self.found or bool(_UNSTORABLE.search(node.value))


# The parser cache hands back the same document object for the same query text, so the
# answer is remembered per object (checked by identity: ids are reused after collection).
_LITERAL_VERDICTS: dict[int, tuple[DocumentNode, bool]] = {}


def _unstorable_literal(document: DocumentNode) -> bool:
    known = _LITERAL_VERDICTS.get(id(document))
    if known is not None and known[0] is document:
        return known[1]
    literals = _Literals()
    visit(document, literals)
    if len(_LITERAL_VERDICTS) >= 1024:
        _LITERAL_VERDICTS.clear()
    _LITERAL_VERDICTS[id(document)] = (document, literals.found)
    return literals.found
