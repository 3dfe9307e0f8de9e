"""The app factory: assembles the routes and middleware around what `api.wiring` built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Route, WebSocketRoute, request_response
from starlette.types import ASGIApp

from api.error_bodies import store_unavailable
from api.lifespan import lifespan
from api.mcp.http import MCP_PATH, McpEndpoint
from api.observability.health import healthz
from api.proxy import ForwardedHeaders
from api.request_checks import PREFLIGHT_HEADERS, RequestChecks, checked_routes
from api.request_rate import RequestRate
from api.settings import Settings
from api.views.exports import EXPORT_PATH, ExportDownloadRoute
from api.views.graphiql import graphiql_routes
from api.views.imports import IMPORT_PATH, ImportRoute
from api.views.media import MEDIA_PATH, MediaRoute
from api.views.quiet_client_errors import log_client_errors_quietly
from api.views.upload import UPLOAD_PATH, UploadRoute
from api.views.webapp import webapp_routes
from api.wiring import GraphQLEndpoint, Server, build_graphql, build_server
from resolvers.errors import StoreUnavailable

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

# Multipart framing and the `operations`/`map` fields on top of the file itself.
MULTIPART_OVERHEAD = 256 * 1024


def create_app(
    settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None
) -> Starlette:
    server = build_server(settings or Settings.from_env(), tracer_provider=tracer_provider)
    graphql = build_graphql(server)
    mcp = McpEndpoint(
        server.stores,
        server.urls,
        server.authenticator,
        stateless=server.settings.mcp_stateless,
    )
    log_client_errors_quietly()
    routes = checked_routes(_routes(server, graphql, mcp))
    app = Starlette(
        routes=routes,
        middleware=_observed(server, routes) + _middleware(server.settings),
        lifespan=lifespan(server, services=[mcp.running]),
        exception_handlers={StoreUnavailable: store_unavailable},
    )
    app.state.server = server
    app.state.query_cache = graphql.query_cache
    app.state.graphql_view = graphql.view
    return app


def _routes(server: Server, graphql: GraphQLEndpoint, mcp: McpEndpoint) -> list[BaseRoute]:
    stores, urls, authenticator = server.stores, server.urls, server.authenticator
    upload = request_response(UploadRoute(stores, urls, authenticator).handle)
    routes: list[BaseRoute] = [
        # Every method reaches the view, which refuses all but GET and POST with a 405
        # in the GraphQL error shape (and `Allow`), like its other refusals.
        Route("/graphql", _counted(server, graphql.http)),
        WebSocketRoute("/graphql", graphql.view),
        Route("/healthz", healthz),
        *server.observability.routes(),
        Route(UPLOAD_PATH, _counted(server, upload), methods=["POST"]),
        Route(MEDIA_PATH, MediaRoute(stores, urls, authenticator).handle, methods=["GET", "HEAD"]),
        # Agents: Streamable HTTP (POST messages, GET the server's stream, DELETE a session).
        Route(MCP_PATH, _counted(server, mcp), methods=["GET", "POST", "DELETE"]),
        Route(EXPORT_PATH, ExportDownloadRoute(stores).handle, methods=["GET", "HEAD"]),
        Route(IMPORT_PATH, ImportRoute(stores, authenticator).handle, methods=["POST"]),
    ]
    if server.settings.graphiql_enabled:
        routes += graphiql_routes()
    routes += _mounted_apps(server)
    return routes


def _counted(server: Server, door: ASGIApp) -> ASGIApp:
    """The door behind the per-owner requests-per-second limit (api.request_rate)."""
    return RequestRate(door, stores=server.stores, authenticator=server.authenticator)


def _mounted_apps(server: Server) -> list[BaseRoute]:
    """Whole apps served beside the API: the web app at `/`. They come last, so a
    catch-all route never shadows an API route."""
    return list(webapp_routes(server.settings.public_base_url))


def _observed(server: Server, routes: list[BaseRoute]) -> list[Middleware]:
    """Outside everything else: forwarded headers first (the client and scheme everything
    after sees), then the trace, request id, metrics and access log of every request."""
    settings = server.settings
    middleware = []
    if settings.trusted_proxies:
        middleware.append(
            Middleware(
                ForwardedHeaders,
                trusted=settings.trusted_proxies,
                origin_from_host=not settings.public_base_url,
            )
        )
    return middleware + server.observability.middleware(routes)


def _middleware(settings: Settings) -> list[Middleware]:
    middleware = []
    if settings.allowed_origins:
        # Front ends served from other origins call the API with bearer tokens, not
        # cookies, so credentials stay off; the CSRF headers must be allowed through.
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allowed_origins),
                allow_methods=["GET", "POST", "HEAD"],
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    *PREFLIGHT_HEADERS,
                    "If-None-Match",
                ],
                expose_headers=["ETag"],
                max_age=600,
            )
        )
    # Inside CORS (so refusals carry its headers), before routing: every path, header and
    # body is checked there, and bodies over the limit are refused while they stream in.
    middleware.append(
        Middleware(
            RequestChecks,
            max_body_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD,
            body_idle_timeout_s=settings.body_idle_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            larger_bodies={IMPORT_PATH: settings.max_import_bytes + MULTIPART_OVERHEAD},
            envelope_bytes=MULTIPART_OVERHEAD,
        )
    )
    return middleware
