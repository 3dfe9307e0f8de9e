"""Query-shape limits and error hygiene, as Strawberry extensions (one job each)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSyntaxError,
    ListTypeNode,
    NameNode,
    NonNullTypeNode,
    StringValueNode,
    VariableNode,
    Visitor,
    print_ast,
    visit,
)
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types import ExecutionContext

from resolvers.cache_budget import BudgetedCache
from resolvers.errors import DomainError, InvalidInput, StoreUnavailable
from resolvers.rate_limits import RateLimited
from schema.context import NotAuthenticated
from schema.document_caches import ParsedDocument, record_of

log = logging.getLogger("meimages.graphql")

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
# NUL is refused by PostgreSQL text columns; an unpaired surrogate cannot be encoded at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


# Apollo Server's codes for a document that failed before execution: what clients
# (Apollo Client's error links among them) switch on.
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
# graphql-core's variable errors say "Variable '$x' got invalid value …" and the like.
_VARIABLE_ERROR = re.compile(r"Variable '\$[_A-Za-z][_0-9A-Za-z]*'")
# graphql-core writes Python's None where GraphQL says null ("… not to be None."); only
# its own phrase is rewritten, never a value a client sent.
_PYTHON_NONE = re.compile(r"\bnot to be None\.")


def should_mask(error: GraphQLError) -> bool:
    """Mask what came from inside a resolver unless it is an error we meant to show.

    An error without a path refuses the request before anything ran: a literal or a
    variable a scalar would not parse (an Upload written in the document, say) is the
    client's mistake, told as graphql-core words it, not a fault to hide."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError) or error.path is None:
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


class MaskUnexpectedErrors(MaskErrors):
    """Strawberry's MaskErrors, which first asks whether there is an error to mask: its
    own ending checks the result against a runtime protocol (some forty Python calls per
    operation) before it finds no error. With errors, or a streamed or incremental
    result, it runs as is; a masked error has the code `INTERNAL_SERVER_ERROR`."""

    def on_operation(self) -> Iterator[None]:
        masking = super().on_operation()
        next(masking)
        yield
        result = self.execution_context.result
        if (
            result is not None
            and not getattr(result, "errors", None)
            and getattr(result, "initial_result", None) is None
        ):
            return  # nothing MaskErrors would mask
        next(masking, None)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        # Apollo Server's code for a fault the client is not told about.
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL_SERVER_ERROR}
        return masked


class HideSuggestions(SchemaExtension):
    """Production mode: no "Did you mean …?" hints that leak the schema's names."""

    def on_operation(self) -> Iterator[None]:
        yield
        for error in _execution_errors(self.execution_context):
            error.message = _SUGGESTION.sub("", error.message)


# What a message quotes: names, type references, variables, coordinates ('Query.profile').
_QUOTED = re.compile(r"'([^']*)'")
_DETAILS_HIDDEN = "details are not shown on this server"
NEUTRAL_MESSAGES = {
    GRAPHQL_VALIDATION_FAILED: f"The document does not validate against the schema ({_DETAILS_HIDDEN}).",
    BAD_USER_INPUT: f"A variable has an invalid value ({_DETAILS_HIDDEN}).",
}


class HideSchemaNames(SchemaExtension):
    """Production mode: a message about the request may quote only what the request
    itself holds (its names, `$variables` and variable types, as written). One that would
    reveal more (a type, an argument, an input field or a nullability the client did not
    write) becomes a neutral message with the same code, so the schema cannot be rebuilt
    from error messages while introspection is off."""

    def on_operation(self) -> Iterator[None]:
        yield
        errors = _execution_errors(self.execution_context)
        document = self.execution_context.graphql_document
        if not errors or document is None:
            return  # a syntax error quotes only the text it could not read
        written: set[str] | None = None
        for error in errors:
            code = (error.extensions or {}).get("code")
            neutral = NEUTRAL_MESSAGES.get(code) if isinstance(code, str) else None
            if neutral is None:
                continue
            written = _written(document) if written is None else written
            if all(quoted in written for quoted in _QUOTED.findall(error.message)):
                continue
            variable = _VARIABLE_ERROR.match(error.message)
            if code == BAD_USER_INPUT and variable is not None:
                neutral = f"{variable.group(0)} has an invalid value ({_DETAILS_HIDDEN})."
            error.message = neutral


class _Written(Visitor):
    """What a document spells out: names, `$variables`, and type references as written."""

    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()

    def enter_name(self, node: NameNode, *_: object) -> None:
        self.found.add(node.value)

    def enter_variable(self, node: VariableNode, *_: object) -> None:
        self.found.add(f"${node.name.value}")

    def enter_list_type(self, node: ListTypeNode, *_: object) -> None:
        self.found.add(print_ast(node))

    def enter_non_null_type(self, node: NonNullTypeNode, *_: object) -> None:
        self.found.add(print_ast(node))


def _written(document: DocumentNode) -> set[str]:
    written = _Written()
    visit(document, written)
    return written.found


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
    """Every error carries a stable code, so clients can branch on it: a domain error its
    own, a document that does not parse or validate Apollo's codes, a bad variable
    BAD_USER_INPUT; and no message speaks Python."""

    def __init__(self) -> None:
        self.validation_errors: set[int] = set()

    def on_validate(self) -> Iterator[None]:
        yield
        errors = self.execution_context.pre_execution_errors or []
        self.validation_errors = {id(error) for error in errors}

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLSyntaxError as syntax:
            # The parser cache parses while entering the parse hooks, so a syntax error
            # leaves the operation as an exception, not as a result.
            syntax.extensions = {**(syntax.extensions or {}), "code": GRAPHQL_PARSE_FAILED}
            raise
        for error in _execution_errors(self.execution_context):
            error.message = _PYTHON_NONE.sub("not to be null.", error.message)
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
            elif not (error.extensions or {}).get("code") and (
                code := self._request_error_code(error)
            ):
                error.extensions = {**(error.extensions or {}), "code": code}

    def _request_error_code(self, error: GraphQLError) -> str | None:
        """The code of an error of the request itself (no path: nothing executed)."""
        if isinstance(error, GraphQLSyntaxError):
            return GRAPHQL_PARSE_FAILED
        if id(error) in self.validation_errors:
            return GRAPHQL_VALIDATION_FAILED
        if error.path is not None:
            return None
        if _VARIABLE_ERROR.match(error.message):
            return BAD_USER_INPUT
        if error.original_error is not None:
            return None
        return OPERATION_RESOLUTION_FAILURE


class StorableText(SchemaExtension):
    """Refuse text no database can hold (NUL, unpaired surrogates) before anything runs.

    Such a string sent as an id would otherwise fail inside the database driver, which
    answers with a masked server error instead of saying what is wrong with the input.
    The verdict on a document's literals is kept with its parsed record, when it has one.
    """

    def __init__(self, documents: BudgetedCache[Any, ParsedDocument] | None = None) -> None:
        self.documents = documents

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if _unstorable_value(context.variables) or self._unstorable_literal(context):
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

    def _unstorable_literal(self, context: ExecutionContext) -> bool:
        document = context.graphql_document
        if document is None:
            return False
        record = None if self.documents is None else record_of(self.documents, context)
        if record is None:
            return _unstorable_literal(document)
        if record.unstorable is None:
            record.unstorable = _unstorable_literal(document)
        return record.unstorable


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


def _unstorable_literal(document: DocumentNode) -> bool:
    literals = _Literals()
    visit(document, literals)
    return literals.found
