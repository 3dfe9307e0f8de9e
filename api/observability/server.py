"""What one server observes itself with, built from Settings and the `OTEL_*` environment;
`api.wiring` builds it, `api.app` plugs its middleware and routes in."""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphql import OperationType
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from strawberry.extensions import SchemaExtension

from api.error_bodies import rest_error
from api.observability import logs, tracing
from api.observability.health import Readiness
from api.observability.metrics import CONTENT_TYPE, Metrics
from api.observability.operations import ObservedOperation, observe_compiled
from api.observability.requests import ObservedRequests
from api.settings import Settings
from resolvers.stores import Stores

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

METRICS_PATH = "/metrics"


@dataclass
class Observability:
    settings: Settings
    metrics: Metrics | None
    tracing: tracing.Tracing | None
    readiness: Readiness
    owner_hash: logs.OwnerHash

    @classmethod
    def build(
        cls,
        settings: Settings,
        stores: Stores,
        *,
        env: Mapping[str, str] | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> Observability:
        environ = os.environ if env is None else env
        # Metrics cost a little per request: collected only when someone may read them.
        metrics = Metrics.from_env(environ) if settings.metrics_token else None
        if metrics is not None:
            stores.observer = metrics
            metrics.watch_pool(stores.db)
            metrics.watch_caches(stores.caches.budget)
            metrics.watch_gc()
        provider = tracer_provider or tracing.provider_from_env(environ)
        traces = tracing.Tracing(provider) if provider is not None else None
        if traces is not None:
            traces.instrument_database(stores.db)
            traces.instrument_http_clients()
        return cls(
            settings,
            metrics,
            traces,
            Readiness.of(stores),
            logs.OwnerHash(settings.url_secret.encode()),
        )

    def schema_extensions(self) -> tuple[Callable[[], SchemaExtension], ...]:
        metrics = self.metrics

        def observed() -> SchemaExtension:
            return ObservedOperation(metrics=metrics)

        extensions = [observed]
        if self.tracing is not None:
            extensions.insert(0, self.tracing.operation_extension())
        return tuple(extensions)

    def compiled(self, operation: str | None, kind: OperationType, seconds: float) -> None:
        observe_compiled(self.metrics, operation, kind, seconds)

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [Route("/readyz", self.readiness.endpoint)]
        if self.metrics is not None:
            routes.append(Route(METRICS_PATH, self.metrics_endpoint))
        return routes

    def middleware(self, routes: list[BaseRoute]) -> list[Middleware]:
        """Outermost first: the trace's server span, then the request id, metrics and log."""
        middleware = []
        if self.tracing is not None:
            middleware.append(Middleware(self.tracing.wrap_app))
        middleware.append(
            Middleware(
                ObservedRequests, metrics=self.metrics, owner_hash=self.owner_hash, routes=routes
            )
        )
        return middleware

    async def metrics_endpoint(self, request: Request) -> Response:
        assert self.metrics is not None
        given = request.headers.get("authorization", "")
        expected = f"Bearer {self.settings.metrics_token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return rest_error(401, "UNAUTHENTICATED", "metrics need the metrics bearer token")
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    @property
    def query_cache_lookup(self) -> Callable[[bool], None] | None:
        return self.metrics.query_cache_lookup if self.metrics is not None else None

    def close(self) -> None:
        if self.tracing is not None:
            self.tracing.shutdown()
