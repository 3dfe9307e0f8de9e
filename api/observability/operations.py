"""One Strawberry extension that observes each GraphQL operation: its metrics, its line in
the request record (for the log), and the request id in every error it answers."""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import GraphQLError, OperationType
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from api import request_id
from api.observability.metrics import Metrics
from schema.events.delivery import Member, handoff_of
from schema.limits import GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, INTERNAL_SERVER_ERROR


def observe_compiled(
    metrics: Metrics | None, operation: str | None, kind: OperationType, seconds: float
) -> None:
    """What `ObservedOperation` records, for a query or mutation its compiled plan
    answered: the plan runs no Strawberry extension (`api.compiler`), and answers only
    without errors."""
    record = request_id.current()
    if record is not None:
        record.operation, record.operation_type, record.outcome = operation, kind.value, "ok"
    if metrics is not None:
        name = metrics.operation_names.label(operation)
        metrics.operation_done(name, kind.value, "ok", seconds, subscription=False)


class ObservedOperation(SchemaExtension):
    def __init__(self, *, metrics: Metrics | None) -> None:
        self.metrics = metrics
        self._subscribed = False

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            handoff = handoff_of(self.execution_context.root_value)
            member = None if handoff is None else handoff.member
            if member is not None and not member.closed:
                # Handed to its event group: observed from there until it ends.
                self._observe_handed(member, started)
            else:
                # Also when cancelled: a subscription ends that way when its client leaves.
                # A mutation a compiled plan began counts from when the plan began it.
                began = getattr(self.execution_context.context, "started_at", None)
                self._observe(time.perf_counter() - (started if began is None else began))

    def _observe_handed(self, member: Member, started: float) -> None:
        context = self.execution_context
        record = request_id.current()
        if record is not None:
            record.operation = context.operation_name
            record.operation_type = "subscription"
            record.outcome = "ok"
        if self.metrics is not None:
            name = self.metrics.operation_names.label(context.operation_name)
            member.watch = _Delivery(self.metrics, name, started)

    def _observe(self, seconds: float) -> None:
        context = self.execution_context
        kind = _operation_type(context)
        errors = _errors(context)
        outcome = _outcome(context, errors)
        record = request_id.current()
        if record is not None:
            record.operation = context.operation_name
            record.operation_type = kind
            record.outcome = outcome
            _tag_errors(errors, record.request_id)
        if self.metrics is None:
            return
        name = self.metrics.operation_names.label(context.operation_name)
        self.metrics.operation_done(name, kind, outcome, seconds, subscription=self._subscribed)
        if self._subscribed:
            self.metrics.subscriptions.dec()
        for error in errors:
            self.metrics.errors.labels(_code(error, outcome)).inc()

    def on_stream_result(self, result: object) -> Iterator[None]:
        # Subscriptions (and queries over a stream): each result is one delivery; the
        # first one of a subscription is when it became live.
        if self.metrics is not None and _operation_type(self.execution_context) == "subscription":
            if not self._subscribed:
                self._subscribed = True
                self.metrics.subscriptions.inc()
            self.metrics.events_delivered.inc()
        yield


class _Delivery:
    """The metrics of a subscription its event group delivers (`schema.events.delivery`),
    as `ObservedOperation` keeps them for one it runs."""

    __slots__ = ("metrics", "name", "started", "subscribed")

    def __init__(self, metrics: Metrics, name: str, started: float) -> None:
        self.metrics = metrics
        self.name = name
        self.started = started
        self.subscribed = False

    def delivered(self) -> None:
        if not self.subscribed:
            self.subscribed = True
            self.metrics.subscriptions.inc()
        self.metrics.events_delivered.inc()

    def ended(self) -> None:
        seconds = time.perf_counter() - self.started
        self.metrics.operation_done(
            self.name, "subscription", "ok", seconds, subscription=self.subscribed
        )
        if self.subscribed:
            self.metrics.subscriptions.dec()


def _operation_type(context: ExecutionContext) -> str:
    try:
        return context.operation_type.value
    except Exception:  # the document did not parse, or named no operation
        return "unknown"


def _errors(context: ExecutionContext) -> list[GraphQLError]:
    result = context.result
    if result is not None and result.errors:
        return list(result.errors)
    return list(context.pre_execution_errors or [])


def _outcome(context: ExecutionContext, errors: list[GraphQLError]) -> str:
    if not errors:
        return "ok"
    # Refused before it ran (syntax, validation, limits: no error has a path), or failed
    # while running (even when a null then reached the top, leaving `data` null).
    result = context.result
    if result is None or (result.data is None and all(e.path is None for e in errors)):
        return "refused"
    return "error"


def _tag_errors(errors: list[GraphQLError], rid: str) -> None:
    for error in errors:
        error.extensions = {**(error.extensions or {}), "requestId": rid}


def _code(error: GraphQLError, outcome: str) -> str:
    """The error's code (`ErrorCodes` and masking have given every error one by now); one
    without gets Apollo's name for what it is."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if outcome != "refused":
        return INTERNAL_SERVER_ERROR
    return (
        GRAPHQL_PARSE_FAILED
        if error.message.startswith("Syntax Error")
        else GRAPHQL_VALIDATION_FAILED
    )
