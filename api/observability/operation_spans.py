"""The GraphQL operation span: Strawberry's OpenTelemetry extension, minus user content."""

from __future__ import annotations

import contextlib
from collections.abc import Generator

from opentelemetry.trace import SpanKind
from strawberry.extensions import LifecycleStep, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension


class OperationSpans(OpenTelemetryExtension):
    """Strawberry's extension without the document text and without a span per field:
    arguments carry prompts, labels and tags, and a span per field costs more than the
    field. Parsing and validation keep their spans (the parent class makes them)."""

    resolve = SchemaExtension.resolve  # type: ignore[assignment]

    def on_operation(self) -> Generator[None, None, None]:
        span = self._tracer.start_span("GraphQL operation", kind=SpanKind.SERVER)
        self._span_holder[LifecycleStep.OPERATION] = span
        span.set_attribute("component", "graphql")
        yield
        context = self.execution_context
        if context.operation_name:
            span.update_name(f"GraphQL {context.operation_name}")
            span.set_attribute("graphql.operation.name", context.operation_name)
        with contextlib.suppress(Exception):  # the document did not parse: no type to tell
            span.set_attribute("graphql.operation.type", context.operation_type.value)
        span.end()
