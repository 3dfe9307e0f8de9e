"""Subscription events executed once per document, variables and owner, not per subscriber.

Every subscriber of one owner's space with the same document and variables gets the same
answer for the same event: the selection set runs on the same logged event with the same
caller. The first subscriber to reach an event executes it; the others, in this process,
await or take that result. Each subscription keeps its own stream (its cursor, replay
and token expiry are decided before execution), so only the execution is shared. A
result with errors is not kept (subscribers awaiting it at that moment get it, as they
would have computed the same).
"""

from __future__ import annotations

import asyncio
import json
import sys
import weakref
from collections.abc import Awaitable, Hashable
from typing import Any, Protocol, runtime_checkable

from graphql import ExecutionResult, GraphQLSchema, OperationType

from resolvers.cache_budget import BudgetedCache, CacheBudget, Sizing, tree_bytes
from schema.strawberry_compat import StrawberryGraphQLCoreExecutionContext

# Results kept per schema. All subscribers of an event take it within moments of each
# other, so a few recent events per (document, owner) are plenty.
RECENT_RESULTS = 1024
# An entry's bytes besides its variables' text and its result's data, estimated: the
# key tuple and the event's key (the document text and the caller are shared with the
# subscription), the ExecutionResult.
_RESULT_BYTES = 300


@runtime_checkable
class SharedEvent(Protocol):
    """A subscription payload that names the logged event it shows."""

    def shared_key(self) -> Hashable: ...


_Pending = asyncio.Future[ExecutionResult]
_Recent = BudgetedCache[Hashable, ExecutionResult | _Pending]
_results: weakref.WeakKeyDictionary[GraphQLSchema, _Recent] = weakref.WeakKeyDictionary()


def keep_results(schema: GraphQLSchema, budget: CacheBudget) -> None:
    """Keep the shared results of `schema`'s subscriptions under `budget`."""
    _results[schema] = budget.cache(
        "subscription_results", Sizing.ESTIMATED, max_entries=RECENT_RESULTS
    )


def _recent(schema: GraphQLSchema) -> _Recent:
    recent = _results.get(schema)
    if recent is None:  # a schema built without a budget of its own
        keep_results(schema, CacheBudget())
        recent = _results[schema]
    return recent


class SharedEventExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor that shares subscription event results (see module)."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        key = self._event_key()
        if key is None:
            return super().execute_operation(serially)
        recent = _recent(self.schema)
        known = recent.get(key)
        if isinstance(known, ExecutionResult):
            return known
        if known is not None:
            # Shielded: one subscriber leaving must not cancel the others' result.
            return asyncio.shield(known)
        result = super().execute_operation(serially)
        if not self.is_awaitable(result):
            if isinstance(result, ExecutionResult) and not result.errors:
                _remember(recent, key, result)
            return result
        pending: _Pending = asyncio.ensure_future(_executed(result))
        _remember(recent, key, pending)
        pending.add_done_callback(lambda done: _settle(recent, key, done))
        return asyncio.shield(pending)

    def _event_key(self) -> Hashable | None:
        """(document, variables, caller, event), or None when this execution is not a
        subscription event or its payload is not a logged event."""
        payload = self.root_value
        operation = self.operation
        if operation.operation is not OperationType.SUBSCRIPTION:
            return None
        if not isinstance(payload, SharedEvent) or operation.loc is None:
            return None
        caller = getattr(self.context_value, "caller", None)
        if caller is None:
            return None
        name = operation.name.value if operation.name else None
        try:
            variables = json.dumps(self.variable_values, sort_keys=True, default=str)
        except (TypeError, ValueError):
            return None
        return (operation.loc.source.body, name, variables, caller, payload.shared_key())


async def _executed(result: Awaitable[ExecutionResult]) -> ExecutionResult:
    return await result


def _remember(recent: _Recent, key: Hashable, value: ExecutionResult | _Pending) -> None:
    # Measured for a result: its data is a small JSON-like tree (one event's fields).
    data = value.data if isinstance(value, ExecutionResult) else None
    variables = key[2] if isinstance(key, tuple) else ""
    recent.put(key, value, _RESULT_BYTES + sys.getsizeof(variables) + tree_bytes(data))


def _settle(recent: _Recent, key: Hashable, done: _Pending) -> None:
    """Keep a finished result without errors; forget anything else."""
    if recent.peek(key) is not done:
        return
    if done.cancelled() or done.exception() is not None or done.result().errors:
        recent.pop(key)
    else:
        _remember(recent, key, done.result())
