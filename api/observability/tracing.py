"""OpenTelemetry traces: on only when the standard `OTEL_*` variables ask for them.

With tracing on, one request is one trace: the ASGI server span, the GraphQL operation
with its parse and validation (Strawberry's extension), a span per SQL statement and a
client span per provider call (httpx). Off (the default), nothing is imported beyond this
module and nothing wraps a request.

No user content goes into a span: URLs lose their query strings (GraphQL over GET, signed
media URLs), the operation span carries no document and no arguments, SQL statements
carry placeholders only (values are bound parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from api.settings import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span
    from starlette.types import ASGIApp
    from strawberry.extensions import SchemaExtension

    from storage.db import Database

SERVICE_NAME = "meimages"
REQUEST_ID_ATTRIBUTE = "meimages.request_id"
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_EXPORTERS = ("otlp", "console")


def wanted(env: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces, as the OpenTelemetry SDK reads it."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return any(env.get(name, "").strip() for name in _ENDPOINT_VARIABLES)


def provider_from_env(env: Mapping[str, str]) -> TracerProvider | None:
    """A tracer provider exporting as `OTEL_*` says (OTLP over HTTP, or the console), or
    None when tracing is off. Unknown exporters and protocols stop start-up (ConfigError)."""
    if not wanted(env):
        return None
    for variable in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        protocol = env.get(variable, "").strip()
        if protocol not in ("", "http/protobuf"):
            raise ConfigError(f"{variable}: only http/protobuf is installed (got {protocol!r})")
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")]
    provider = TracerProvider(
        resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or SERVICE_NAME})
    )
    for name in names:
        if name not in _EXPORTERS:
            raise ConfigError(f"OTEL_TRACES_EXPORTER: {name!r} is not one of otlp, console, none")
        exporter: SpanExporter
        if name == "console":
            exporter = ConsoleSpanExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_* itself
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


@dataclass
class Tracing:
    """What one app instruments with one tracer provider."""

    provider: TracerProvider

    def wrap_app(self, app: ASGIApp) -> ASGIApp:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        wrapped: ASGIApp = OpenTelemetryMiddleware(
            app,
            tracer_provider=self.provider,
            server_request_hook=_without_query,
            # Every ASGI message as a span of its own is noise (and costs) here.
            exclude_spans=["receive", "send"],
        )
        return wrapped

    def operation_extension(self) -> Callable[[], SchemaExtension]:
        from api.observability.operation_spans import OperationSpans

        provider = self.provider

        def make() -> SchemaExtension:
            return OperationSpans(tracer_provider=provider)

        return make

    def instrument_database(self, db: Database) -> None:
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.instrumentation.sqlalchemy.version import __version__
        from opentelemetry.metrics import NoOpMeterProvider
        from opentelemetry.trace import get_tracer

        tracer = get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__, self.provider)
        # Connection-use metrics are ours (Prometheus); the instrumentation's are dropped.
        usage = NoOpMeterProvider().get_meter("meimages").create_up_down_counter("unused")
        EngineTracer(tracer, db.engine.sync_engine, usage)  # type: ignore[no-untyped-call]

    def instrument_http_clients(self) -> None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        # httpx clients are made per provider call; the instrumentor patches the transport
        # class once per process.
        instrumentor = HTTPXClientInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(
                tracer_provider=self.provider,
                request_hook=_client_url_hook,
                async_request_hook=_async_client_url_hook,
            )

    def shutdown(self) -> None:
        self.provider.shutdown()


def _without_query(span: Span, scope: dict[str, Any]) -> None:
    if not span.is_recording():
        return
    path = scope.get("path", "")
    span.set_attribute("http.target", path)
    span.set_attribute("url.path", path)
    span.set_attribute("url.query", "")
    host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin1")
    span.set_attribute("http.url", f"{scope.get('scheme', 'http')}://{host}{path}")


async def _async_client_url_hook(span: Span, request: Any) -> None:
    _client_url_hook(span, request)


def _client_url_hook(span: Span, request: Any) -> None:
    if not span.is_recording():
        return
    url = request.url
    clean = url.copy_with(query=None) if hasattr(url, "copy_with") else str(url).split("?")[0]
    span.set_attribute("http.url", str(clean))
    span.set_attribute("url.full", str(clean))
