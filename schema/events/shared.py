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
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Hashable
from typing import Any, Protocol, runtime_checkable

from graphql import ExecutionResult, GraphQLSchema, OperationType

from schema.strawberry_compat import StrawberryGraphQLCoreExecutionContext

# Results kept per schema. All subscribers of an event take it within moments of each
# other, so a few recent events per (document, owner) are plenty.
RECENT_RESULTS = 1024


@runtime_checkable
class SharedEvent(Protocol):
    """A subscription payload that names the logged event it shows."""

    def shared_key(self) -> Hashable: ...


_Pending = asyncio.Future[ExecutionResult]
_results: weakref.WeakKeyDictionary[
    GraphQLSchema, OrderedDict[Hashable, ExecutionResult | _Pending]
] = weakref.WeakKeyDictionary()


def _recent(schema: GraphQLSchema) -> OrderedDict[Hashable, ExecutionResult | _Pending]:
    recent = _results.get(schema)
    if recent is None:
        recent = _results[schema] = OrderedDict()
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


def _remember(
    recent: OrderedDict[Hashable, ExecutionResult | _Pending],
    key: Hashable,
    value: ExecutionResult | _Pending,
) -> None:
    recent[key] = value
    while len(recent) > RECENT_RESULTS:
        recent.popitem(last=False)


def _settle(
    recent: OrderedDict[Hashable, ExecutionResult | _Pending], key: Hashable, done: _Pending
) -> None:
    """Keep a finished result without errors; forget anything else."""
    if recent.get(key) is not done:
        return
    if done.cancelled() or done.exception() is not None or done.result().errors:
        del recent[key]
    else:
        recent[key] = done.result()
