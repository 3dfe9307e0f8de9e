"""Subscription events executed once per document, variables and owner, not per subscriber.

Every subscriber of one owner's space with the same document and variables gets the same
answer for the same event: the selection set runs on the same logged event with the same
caller. The first subscriber to reach an event executes it; the others, in this process,
await or take that result, which is kept as one of the logged event's forms (see
`storage.eventlog.forms`), so it lives as long as the event and no longer. Each
subscription keeps its own stream (its cursor, replay and token expiry are decided
before execution), so only the execution is shared. A result with errors is not kept
(subscribers awaiting it at that moment get it, as they would have computed the same).

A kept result's data is `SharedData`: the door that sends it encodes it once and keeps
the encoded form on it (`api.views.event_frames`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, runtime_checkable

from graphql import ExecutionResult, OperationType

from resolvers.events.feed import EventForms, Form, FormsRef
from schema.events.delivery import handoff_of
from schema.strawberry_compat import StrawberryGraphQLCoreExecutionContext, fresh_event_memos


@runtime_checkable
class SharedEvent(Protocol):
    """A subscription payload that carries the forms of the logged event it shows."""

    forms: FormsRef


class SharedData(dict[str, Any]):
    """The data of an event's result, shared by its subscribers; `encoded`: its payload
    as the door sends it, made by the first subscriber sent it."""

    __slots__ = ("encoded",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self.encoded: str | None = None


_Pending = asyncio.Future[ExecutionResult]
_Executed = Form[ExecutionResult | _Pending]


class SharedEventExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor that shares subscription event results (see module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        handoff = handoff_of(self.root_value)
        if handoff is not None and handoff.executor is None:
            handoff.executor = self  # what its group executes events with

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        fresh_event_memos(executor)  # else a subscription grows by every event it gets
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        shared = self._shared()
        if shared is None:
            return super().execute_operation(serially)
        forms, form = shared
        known = forms.get(form)
        if isinstance(known, ExecutionResult):
            return known
        if known is not None:
            # Shielded: one subscriber leaving must not cancel the others' result.
            return asyncio.shield(known)
        result = super().execute_operation(serially)
        if not self.is_awaitable(result):
            if isinstance(result, ExecutionResult) and not result.errors:
                result = _kept(result)
                forms.put(form, result)
            return result
        pending: _Pending = asyncio.ensure_future(_executed(result))
        forms.put(form, pending)
        pending.add_done_callback(lambda done: _settle(forms, form, done))
        return asyncio.shield(pending)

    def _shared(self) -> tuple[EventForms, _Executed] | None:
        """The logged event's forms and the key of this execution's result among them
        (document, variables, caller), or None when this execution is not a
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
        forms = payload.forms()
        if forms is None:
            return None
        name = operation.name.value if operation.name else None
        try:
            variables = json.dumps(self.variable_values, sort_keys=True, default=str)
        except (TypeError, ValueError):
            return None
        form: _Executed = Form("execution", (operation.loc.source.body, name, variables, caller))
        return forms, form


async def _executed(result: Awaitable[ExecutionResult]) -> ExecutionResult:
    return _kept(await result)


def _kept(result: ExecutionResult) -> ExecutionResult:
    """The result as it is shared: its data a `SharedData` (when there is data)."""
    if result.errors or not isinstance(result.data, dict):
        return result
    return ExecutionResult(SharedData(result.data), None, result.extensions)


def _settle(forms: EventForms, form: _Executed, done: _Pending) -> None:
    """Keep a finished result without errors; forget anything else."""
    if forms.get(form) is not done:
        return
    if done.cancelled() or done.exception() is not None or done.result().errors:
        forms.drop(form)
    else:
        forms.put(form, done.result())
