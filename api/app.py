"""The app factory: wires settings, stores, schema and routes into one Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
)

from api.auth import Authenticator
from api.graphql_view import MeImagesGraphQL
from api.query_cache import QueryCache
from api.rest import MediaRoute, UploadRoute
from api.settings import Settings
from api.webapp import webapp_routes
from resolvers.purge import collect_garbage_periodically
from resolvers.signed_urls import MediaUrlSigner
from resolvers.stores import Limits, Stores
from schema import SchemaOptions, build_schema
from storage import migrate
from storage.blobs import S3Credentials, open_blob_store
from storage.crypto import KeyFile, MasterKey, MasterKeyring
from storage.db import Database
from storage.events import NotifyListener, RetentionSweeper
from storage.keys import FieldVault

log = logging.getLogger("meimages")

GRAPHIQL_DIR = Path(__file__).parent / "static" / "graphiql"
GRAPHIQL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# Multipart framing and the `operations`/`map` fields on top of the file itself.
MULTIPART_OVERHEAD = 256 * 1024


@dataclass
class Server:
    """Everything one running instance holds; tests reach in through `app.state.server`."""

    settings: Settings
    stores: Stores
    urls: MediaUrlSigner
    authenticator: Authenticator


def load_keyring(settings: Settings) -> MasterKeyring:
    if settings.master_key:
        keys = [MasterKey.from_b64(settings.master_key)]
        keys += [MasterKey.from_b64(k) for k in settings.previous_master_keys]
        return MasterKeyring(keys)
    key_file = KeyFile(settings.master_key_file)
    return MasterKeyring(key_file.load_or_create(), source=key_file)


def build_server(settings: Settings) -> Server:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.embedded_auth or not settings.url_secret:
        settings = settings.with_local_secrets()
    db = Database(settings.resolved_database_url)
    stores = Stores(
        db=db,
        vault=FieldVault(load_keyring(settings)),
        blobs=open_blob_store(
            settings.blob_url,
            default_dir=settings.resolved_blob_dir,
            credentials=S3Credentials(
                settings.s3_access_key_id, settings.s3_secret_access_key, settings.s3_session_token
            ),
        ),
        limits=Limits(
            max_upload_bytes=settings.max_upload_bytes, max_image_pixels=settings.max_image_pixels
        ),
        generation=settings.generation_config(),
    )
    urls = MediaUrlSigner(
        settings.url_secret.encode(),
        ttl_s=settings.media_url_ttl_s,
        prefix=f"{settings.public_base_url}/media",
    )
    return Server(settings, stores, urls, Authenticator(settings))


def _build_id(sdl: str, settings: Settings) -> str:
    """Everything besides data that shapes an answer: cached answers never cross it."""
    parts = [sdl, settings.production, settings.introspection_enabled, settings.public_base_url]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    server = build_server(settings)
    settings = server.settings
    schema = build_schema(
        SchemaOptions(
            introspection=settings.introspection_enabled,
            suggestions=not settings.production,
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
        )
    )
    graphql = MeImagesGraphQL(
        schema,
        stores=server.stores,
        urls=server.urls,
        authenticator=server.authenticator,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=True,
        multipart_uploads_enabled=True,
        # WebSocket (current and legacy protocol) and GraphQL over SSE on the same path.
        subscription_protocols=(
            GRAPHQL_TRANSPORT_WS_PROTOCOL,
            GRAPHQL_WS_PROTOCOL,
            GRAPHQL_SSE_PROTOCOL,
        ),
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_s),
        max_message_bytes=settings.ws_max_message_bytes,
        max_subscriptions_per_connection=20,
        allowed_origins=settings.allowed_origins,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def graphiql(request: Request) -> Response:
        return FileResponse(
            GRAPHIQL_DIR / "index.html",
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": GRAPHIQL_CSP, "X-Content-Type-Options": "nosniff"},
        )

    query_cache = (
        QueryCache(
            graphql,
            stores=server.stores,
            authenticator=server.authenticator,
            urls=server.urls,
            build_id=_build_id(schema.as_str(), settings),
            max_entries=settings.query_cache_entries,
        )
        if settings.query_cache_entries > 0
        else None
    )

    routes: list[Route | WebSocketRoute | Mount] = [
        Route("/graphql", query_cache or graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route(
            "/api/v1/profile/me-images/upload",
            UploadRoute(server.stores, server.urls, server.authenticator).handle,
            methods=["POST"],
        ),
        Route(
            "/media/{media_id}/{variant}",
            MediaRoute(server.stores, server.urls, server.authenticator).handle,
            methods=["GET", "HEAD"],
        ),
    ]
    if settings.graphiql_enabled:
        routes += [
            Route("/graphiql", graphiql),
            Mount("/graphiql/assets", StaticFiles(directory=GRAPHIQL_DIR)),
        ]
    routes += webapp_routes(settings.public_base_url)  # the web app at `/`, after the API

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = server.stores.db
        await migrate.upgrade(db)
        # Instances sharing one PostgreSQL wake each other's subscribers via LISTEN/NOTIFY.
        listener = None if db.is_sqlite else NotifyListener(db.url, server.stores.notifier)
        sweeper = None
        if settings.event_retention_days > 0:
            sweeper = RetentionSweeper(db, timedelta(days=settings.event_retention_days))
            sweeper.start()
        if listener is not None:
            await listener.start()
        # Orphaned media bytes go after their grace period; safe on every instance at once.
        collector = (
            asyncio.create_task(
                collect_garbage_periodically(
                    server.stores,
                    interval=timedelta(seconds=settings.gc_interval_s),
                    grace=timedelta(seconds=settings.gc_grace_s),
                )
            )
            if settings.gc_interval_s > 0
            else None
        )
        try:
            yield
        finally:
            if collector is not None:
                collector.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await collector
            await server.stores.blobs.close()
            if listener is not None:
                await listener.stop()
            if sweeper is not None:
                await sweeper.stop()
            await db.dispose()

    # Starlette refuses bodies over the limit while they stream in (413, nothing read on).
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
                    "GraphQL-Require-Preflight",
                    "Apollo-Require-Preflight",
                    "If-None-Match",
                ],
                expose_headers=["ETag"],
                max_age=600,
            )
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        max_body_size=settings.max_upload_bytes + MULTIPART_OVERHEAD,
    )
    app.state.server = server
    app.state.query_cache = query_cache
    return app
