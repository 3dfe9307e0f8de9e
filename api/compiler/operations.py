"""Compiled operations: answers a GraphQL query, or a mutation of one root field, from
its plan when that is sure to give the response graphql-core would give, and otherwise
says so (None) for the view to run it.

A request takes the plan only when it is one query (or mutation, when those are on)
without extensions, its document parses under the schema's token limit and validates
under the schema's own rules (depth, aliases, introspection included), its text is
storable (`schema.limits`), its variables coerce, and its plan runs without any error.
Everything else — subscriptions, invalid documents, introspection, anything that would
answer with an error — goes the usual way, so error masking, typed errors and limits stay
graphql-core's and Strawberry's. A mutation whose resolver has run is never run again: a
plan that cannot finish its answer raises `Replay` (`api.compiler.mutations`) and the view
has graphql-core make the answer from the resolver's outcome. The caller is
authenticated by the view before either path runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from graphql import (
    ASTValidationRule,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    GraphQLSchema,
    OperationType,
    VariableNode,
    Visitor,
    specified_rules,
    visit,
)
from strawberry import Schema
from strawberry.types import ExecutionResult

from api.compiler.graphql_core import (
    Executor,
    VariableValues,
    coerced_variables,
    forkable,
    forked,
)
from api.compiler.mutations import Replay, install_replay
from api.compiler.plan import Fallback, MutationPlan, Plan, compile_mutation, compile_plan
from api.documents import CACHED_DOCUMENTS, QueryDocuments, text_bytes
from resolvers.cache_budget import CacheBudget, Sizing, memoized
from schema.limits import unstorable_text
from schema.strawberry_compat import (
    graphql_schema,
    optimized_is_awaitable,
    validate_document,
    wraps_resolvers,
)

# Plans kept per process: one per document, operation and `@skip`/`@include` values.
CACHED_PLANS = 1024
# Datetime texts remembered per process: a list read of a pool serialises two per image.
CACHED_DATES = 4096
# An executor's bytes besides its document, measured with tracemalloc (3,577), rounded.
EXECUTOR_BYTES = 3600
# A plan's bytes per character of its document's text, estimated: measured with
# tracemalloc over the clients' queries (tests/memory/test_estimates.py), rounded up.
PLAN_BYTES_PER_CHAR = 40


class CompiledOperations:
    """Plans of one schema, cached; `execute` is the view's fast path for queries and,
    with `mutations`, for mutations of one root field."""

    def __init__(
        self,
        schema: Schema,
        documents: QueryDocuments,
        validation_rules: Sequence[type[ASTValidationRule]],
        admits: Callable[[DocumentNode, str | None, Mapping[str, Any] | None], bool] | None = None,
        budget: CacheBudget | None = None,
        queries: bool = True,
        mutations: bool = False,
    ) -> None:
        self.schema = schema
        # The checks Strawberry's extensions make before validation and execution (the
        # query cost, trusted documents under `require`) — the plans run no extension: a
        # plan answers only what these admit; anything else takes the usual path, whose
        # extensions refuse it in their own words.
        self.admits = admits
        self.graphql_schema: GraphQLSchema = graphql_schema(schema)
        self.documents = documents
        self.rules = (*specified_rules, *validation_rules)
        self.executor_class: type[Executor[Any]] = schema.execution_context_class or Executor
        # A schema extension that wraps every resolver (tracing, say) must see every
        # field; the plans would skip it, so they stay off.
        self.enabled = not any(wraps_resolvers(ext) for ext in schema.get_extensions())
        self.queries = queries and self.enabled
        self.mutations = mutations and self.enabled
        # The operation types the plans answer (`MEIMAGES_COMPILED_READS`, `..._MUTATIONS`).
        self.kinds = frozenset(
            kind
            for kind, on in (
                (OperationType.QUERY, self.queries),
                (OperationType.MUTATION, self.mutations),
            )
            if on
        )
        if self.mutations:
            install_replay(self.graphql_schema)
        budget = budget if budget is not None else CacheBudget()
        # A verdict holds the document `documents` keeps (counted there): only its own
        # bookkeeping counts here.
        verdicts = budget.cache("document_verdicts", Sizing.ESTIMATED, max_entries=CACHED_DOCUMENTS)
        self.valid = memoized(verdicts, self._valid, text_bytes)
        self._plans = budget.cache("plans", Sizing.ESTIMATED, max_entries=CACHED_PLANS)
        # One graphql-core executor per document and operation, forked for each request.
        self._prototypes = budget.cache("executors", Sizing.ESTIMATED, max_entries=CACHED_PLANS)
        # The text of the UTC datetimes plans serialised (`isoformat`), looked up instead;
        # read with `peek`, so the oldest made is the first to go when it is full.
        self._dates = budget.cache("datetime_texts", Sizing.ESTIMATED, max_entries=CACHED_DATES)
        # `admits` of requests without variables, by query text and operation: it judges
        # the document, operation and variables alone, so its verdict stays the same. The
        # key's text is the one the documents cache keeps: only the bookkeeping counts.
        self._admitted = budget.cache("admissions", Sizing.ESTIMATED, max_entries=CACHED_PLANS)
        self.answered = 0
        self.passed_on = 0
        self.replayed = 0

    async def execute(
        self,
        query: object,
        variables: object,
        operation_name: object,
        extensions: object,
        context: Any,
    ) -> ExecutionResult | None:
        """The result of a query (or mutation) from its plan, or None: the view runs it
        as usual. Raises `Replay` for a mutation whose resolver ran and whose answer the
        plan leaves to graphql-core."""
        if not self.enabled or extensions is not None or not isinstance(query, str):
            return None
        if not (isinstance(variables, dict | None) and isinstance(operation_name, str | None)):
            return None
        if self.documents.operation_type(query, operation_name) not in self.kinds:
            return None
        verdict = self.valid(query)
        if verdict is None or unstorable_text(variables, None):
            self.passed_on += 1
            return None
        document, switches = verdict
        if not self._admits(query, document, operation_name, variables):
            self.passed_on += 1
            return None
        executor = self._executor(query, document, operation_name, variables, context)
        if executor is None:
            self.passed_on += 1
            return None  # variables that do not coerce: graphql-core says why
        plan = self._plan(query, operation_name, switches, executor)
        if plan is None:
            self.passed_on += 1
            return None
        try:
            data = await plan.run(executor)
        except Fallback:
            self.passed_on += 1
            return None
        except Replay:
            self.replayed += 1
            raise
        self.answered += 1
        return ExecutionResult(data=data, errors=None)

    def _executor(
        self,
        query: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        context: Any,
    ) -> Executor[Any] | None:
        """What graphql-core's `build` gives for this request, or None when it refuses
        it: forked from the executor built once per document and operation (`forked`)."""
        key = (query, operation_name)
        prototype = self._prototypes.peek(key)
        if prototype is None:
            built = self._build(document, operation_name, variables, None)
            if built is None:
                return None
            prototype = built if forkable(built) else _UNFORKABLE
            if prototype is not _UNFORKABLE and built.operation.variable_definitions:
                built.variable_values = _NO_VARIABLES  # each request brings its own
            # The document is counted where the documents are kept: the executor's own.
            self._prototypes.put(key, prototype, EXECUTOR_BYTES)
        if prototype is _UNFORKABLE:
            return self._build(document, operation_name, variables, context)
        values = prototype.variable_values
        if prototype.operation.variable_definitions:
            values = coerced_variables(prototype, variables)
            if isinstance(values, list):
                return None
        return forked(prototype, context, values)

    def _build(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        context: Any,
    ) -> Executor[Any] | None:
        executor = self.executor_class.build(
            self.graphql_schema,
            document,
            context_value=context,
            raw_variable_values=variables,
            operation_name=operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            operation_extensions=None,
        )
        return None if isinstance(executor, list) else executor

    def _admits(
        self,
        query: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> bool:
        if self.admits is None:
            return True
        if variables:
            return self.admits(document, operation_name, variables)
        key = (query, operation_name)
        admitted = self._admitted.get(key)
        if admitted is None:
            admitted = self.admits(document, operation_name, variables)
            self._admitted.put(key, admitted, 0)
        return bool(admitted)

    def _valid(self, query: str) -> tuple[DocumentNode, tuple[str, ...]] | None:
        """The document and the variables its `@skip`/`@include` read, when it parses
        and validates under the schema's rules and holds only storable text."""
        document = self.documents.parse(query)
        if document is None or unstorable_text(None, document):
            return None
        if validate_document(self.graphql_schema, document, self.rules):
            return None
        return document, tuple(sorted(_switch_variables(document)))

    def _plan(
        self,
        query: str,
        operation_name: str | None,
        switches: tuple[str, ...],
        executor: Executor[Any],
    ) -> Plan | MutationPlan | None:
        coerced = executor.variable_values.coerced
        key = (query, operation_name, tuple(coerced.get(name) for name in switches))
        known = self._plans.get(key, _UNPLANNED)
        if known is not _UNPLANNED:
            return known  # type: ignore[no-any-return]
        plan: Plan | MutationPlan | None
        if executor.operation.operation is OperationType.MUTATION:
            plan = compile_mutation(self.graphql_schema, executor, self._dates)
        else:
            plan = compile_plan(self.graphql_schema, executor, self._dates)
        planned = PLAN_BYTES_PER_CHAR * len(query) if plan is not None else 0
        self._plans.put(key, plan, text_bytes(query) + planned)
        return plan


_UNPLANNED = object()
# An executor class keeping attributes `forked` does not know: built for each request.
_UNFORKABLE: Any = object()
_NO_VARIABLES = VariableValues(sources={}, coerced={})


class _SwitchVariables(Visitor):
    """Names of the variables that `@skip`/`@include` arguments read."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_: object) -> None:
        if node.name.value not in ("skip", "include"):
            return
        for argument in node.arguments or ():
            value = argument.value
            if isinstance(value, VariableNode):
                self.names.add(value.name.value)
            elif not isinstance(value, BooleanValueNode):  # pragma: no cover - validated
                self.names.add("")


def _switch_variables(document: DocumentNode) -> Iterable[str]:
    switches = _SwitchVariables()
    visit(document, switches)
    return switches.names
