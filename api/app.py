"""The app factory: assembles the routes and middleware around what `api.wiring` built."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from api.lifespan import lifespan
from api.request_checks import PREFLIGHT_HEADERS, RequestChecks, checked_routes
from api.settings import Settings
from api.views.exports import EXPORT_PATH, ExportDownloadRoute
from api.views.graphiql import graphiql_routes
from api.views.imports import IMPORT_PATH, ImportRoute
from api.views.media import MEDIA_PATH, MediaRoute
from api.views.quiet_client_errors import log_client_errors_quietly
from api.views.upload import UPLOAD_PATH, UploadRoute
from api.views.webapp import webapp_routes
from api.wiring import GraphQLEndpoint, Server, build_graphql, build_server

# Multipart framing and the `operations`/`map` fields on top of the file itself.
MULTIPART_OVERHEAD = 256 * 1024


def create_app(settings: Settings | None = None) -> Starlette:
    server = build_server(settings or Settings.from_env())
    graphql = build_graphql(server)
    log_client_errors_quietly()
    app = Starlette(
        routes=checked_routes(_routes(server, graphql)),
        middleware=_middleware(server.settings),
        lifespan=lifespan(server),
    )
    app.state.server = server
    app.state.query_cache = graphql.query_cache
    return app


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _routes(server: Server, graphql: GraphQLEndpoint) -> list[BaseRoute]:
    stores, urls, authenticator = server.stores, server.urls, server.authenticator
    routes: list[BaseRoute] = [
        Route("/graphql", graphql.http, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql.view),
        Route("/healthz", healthz),
        Route(UPLOAD_PATH, UploadRoute(stores, urls, authenticator).handle, methods=["POST"]),
        Route(MEDIA_PATH, MediaRoute(stores, urls, authenticator).handle, methods=["GET", "HEAD"]),
        Route(EXPORT_PATH, ExportDownloadRoute(stores).handle, methods=["GET", "HEAD"]),
        Route(IMPORT_PATH, ImportRoute(stores, authenticator).handle, methods=["POST"]),
    ]
    if server.settings.graphiql_enabled:
        routes += graphiql_routes()
    routes += _mounted_apps(server)
    return routes


def _mounted_apps(server: Server) -> list[BaseRoute]:
    """Whole apps served beside the API: the web app at `/`. They come last, so a
    catch-all route never shadows an API route."""
    return list(webapp_routes(server.settings.public_base_url))


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
            larger_bodies={IMPORT_PATH: settings.max_import_bytes + MULTIPART_OVERHEAD},
        )
    )
    return middleware
