"""Parsed and validated documents, remembered per query text under the server's cache budget.

Strawberry's `ParserCache` and `ValidationCache` do this with `functools.lru_cache`,
which counts entries, not bytes, and is shared by every schema of the process. These
two extensions keep one record per (query text, parse options) in a `BudgetedCache`:
the document, the errors of its validation under the schema's rules, and whether its
literals hold text no database can store (`schema.limits.StorableText` asks). A
record whose document is not the one the request carries (another extension put its
own) is not used.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from resolvers.cache_budget import BudgetedCache, CacheBudget, Sizing
from schema.strawberry_compat import graphql_schema, validate_document

__all__ = [
    "DOCUMENT_BYTES_PER_CHAR",
    "CachedParse",
    "CachedValidation",
    "ParsedDocument",
    "document_bytes",
    "parsed_documents",
]

CACHED_DOCUMENTS = 512
# A parsed document's bytes per character of its text, estimated: measured with
# tracemalloc over the clients' documents (tests/memory/test_estimates.py), rounded up.
DOCUMENT_BYTES_PER_CHAR = 60
# A record's own bytes besides the text and the document: the record, its key tuple.
_RECORD_BYTES = 200


def document_bytes(query: str) -> int:
    """The estimated bytes of `query`, its text and its parsed document."""
    return _RECORD_BYTES + sys.getsizeof(query) + DOCUMENT_BYTES_PER_CHAR * len(query)


class ParsedDocument:
    """What is remembered of one query text (see module)."""

    __slots__ = ("document", "errors", "rules", "unstorable")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.rules: tuple[Any, ...] | None = None
        self.errors: list[GraphQLError] = []
        self.unstorable: bool | None = None


def parsed_documents(budget: CacheBudget) -> BudgetedCache[Any, ParsedDocument]:
    return budget.cache("schema_documents", Sizing.ESTIMATED, max_entries=CACHED_DOCUMENTS)


def _key(context: ExecutionContext) -> Hashable:
    return (context.query, tuple(sorted(context.parse_options.items())))


def record_of(
    cache: BudgetedCache[Any, ParsedDocument], context: ExecutionContext
) -> ParsedDocument | None:
    """The record of the request's document, when it is the one the request carries."""
    document = context.graphql_document
    if document is None or context.query is None:
        return None
    known = cache.peek(_key(context))
    return known if known is not None and known.document is document else None


class CachedParse(SchemaExtension):
    """Parse each query text once (a syntax error is raised, as Strawberry's cache does)."""

    def __init__(self, cache: BudgetedCache[Any, ParsedDocument]) -> None:
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            key = _key(context)
            known = self.cache.get(key)
            if known is None:
                known = ParsedDocument(parse(context.query, **context.parse_options))
                self.cache.put(key, known, document_bytes(context.query))
            context.graphql_document = known.document
        yield


class CachedValidation(SchemaExtension):
    """Validate each remembered document once per set of rules."""

    def __init__(self, cache: BudgetedCache[Any, ParsedDocument]) -> None:
        self.cache = cache

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        record = record_of(self.cache, context)
        rules = tuple(context.validation_rules)
        if record is not None and record.rules == rules:
            context.pre_execution_errors = record.errors
        else:
            assert context.graphql_document is not None
            errors = validate_document(
                graphql_schema(context.schema), context.graphql_document, rules
            )
            if record is not None:
                record.rules, record.errors = rules, errors
            context.pre_execution_errors = errors
        yield
