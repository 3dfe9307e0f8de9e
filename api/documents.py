"""Questions about a GraphQL document asked before it runs, parsed under the schema's limits.

The view asks which kind of operation would run (subscriptions need a stream, not
HTTP); the query cache also asks whether the answer depends on the clock. One parse per
query text serves both, with the same token limit the schema enforces, so no document
is judged here that the schema would refuse to parse.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    visit,
)

from resolvers.cache_budget import CacheBudget, Sizing, memoized
from schema.document_caches import DOCUMENT_BYTES_PER_CHAR

CACHED_DOCUMENTS = 1024
# A small answer about a text (an operation type, a flag, a name) with its key tuple.
_ANSWER_BYTES = 120


def text_bytes(query: str, *_: object) -> int:
    """The bytes of a remembered answer about `query` that holds the text as its key."""
    return _ANSWER_BYTES + sys.getsizeof(query)


def document_bytes(query: str, *_: object) -> int:
    """The estimated bytes of `query` parsed, with its text."""
    return text_bytes(query) + DOCUMENT_BYTES_PER_CHAR * len(query)


class QueryDocuments:
    """Parsed documents of one schema; every answer is remembered per query text."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        max_tokens: int,
        clock_dependent: Iterable[str],
        budget: CacheBudget | None = None,
    ) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.clock_dependent = frozenset(clock_dependent)
        if unknown := sorted(c for c in self.clock_dependent if not _field_exists(schema, c)):
            raise ValueError(f"clock-dependent fields missing from the schema: {unknown}")
        budget = budget if budget is not None else CacheBudget()
        parsed = budget.cache("parsed_documents", Sizing.ESTIMATED, max_entries=CACHED_DOCUMENTS)
        answers = budget.cache(
            "document_answers", Sizing.ESTIMATED, max_entries=3 * CACHED_DOCUMENTS
        )
        self.parse = memoized(parsed, self._parse, document_bytes)
        # Both answers share one cache: their keys differ in length.
        self.operation_type = memoized(answers, self._operation_type, text_bytes)
        self.reads_clock = memoized(answers, self._reads_clock, text_bytes)

    def _parse(self, query: str) -> DocumentNode | None:
        """The document, or None when it does not parse within the limits."""
        try:
            return parse(query, max_tokens=self.max_tokens)
        except (GraphQLError, RecursionError):
            return None

    def _operation_type(self, query: str, operation_name: str | None) -> OperationType | None:
        """The type of the operation that would run, or None when the document is not usable."""
        document = self.parse(query)
        if document is None:
            return None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is None:
            return operations[0].operation if len(operations) == 1 else None
        for op in operations:
            if op.name is not None and op.name.value == operation_name:
                return op.operation
        return None

    def operation_name(self, query: str, operation_name: str | None) -> str | None:
        """The name of the operation that would run: the one asked for, else the name of
        the document's only operation (None when it has none, or several)."""
        if operation_name is not None:
            return operation_name
        document = self.parse(query)
        if document is None:
            return None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) == 1 and operations[0].name is not None:
            return operations[0].name.value
        return None

    def _reads_clock(self, query: str) -> bool:
        """Whether any operation of the document selects a clock-dependent field (or the
        document does not parse, so nothing can be said about it)."""
        document = self.parse(query)
        if document is None:
            return True
        type_info = TypeInfo(self.schema)
        fields = _SelectedCoordinates(type_info, self.clock_dependent)
        visit(document, TypeInfoVisitor(type_info, fields))
        return fields.found


class _SelectedCoordinates(Visitor):
    """Finds a selected field whose coordinate is in `wanted`, whatever alias it has."""

    def __init__(self, type_info: TypeInfo, wanted: frozenset[str]) -> None:
        super().__init__()
        self.type_info = type_info
        self.wanted = wanted
        self.found = False

    def enter_field(self, node: FieldNode, *_: object) -> None:
        parent = self.type_info.get_parent_type()
        # A field of no known type never validates, so its answer is never stored anyway.
        if parent is not None and f"{parent.name}.{node.name.value}" in self.wanted:
            self.found = True


def _field_exists(schema: GraphQLSchema, coordinate: str) -> bool:
    type_name, _, field_name = coordinate.partition(".")
    named = schema.get_type(type_name)
    return field_name in getattr(named, "fields", {})
