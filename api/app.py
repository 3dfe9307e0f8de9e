"""The app factory: wires settings, stores, schema and routes into one Starlette app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from api.auth import Authenticator
from api.graphql_view import MeImagesGraphQL
from api.rest import MediaRoute, UploadRoute
from api.settings import Settings
from resolvers.signed_urls import MediaUrlSigner
from resolvers.stores import Limits, Stores
from schema import SchemaOptions, build_schema
from storage import migrate
from storage.blobs import LocalBlobStore
from storage.crypto import KeyFile, MasterKey, MasterKeyring
from storage.db import Database
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
        blobs=LocalBlobStore(settings.resolved_blob_dir),
        limits=Limits(
            max_upload_bytes=settings.max_upload_bytes, max_image_pixels=settings.max_image_pixels
        ),
    )
    urls = MediaUrlSigner(
        settings.url_secret.encode(),
        ttl_s=settings.media_url_ttl_s,
        prefix=f"{settings.public_base_url}/media",
    )
    return Server(settings, stores, urls, Authenticator(settings))


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
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        connection_init_wait_timeout=timedelta(seconds=10),
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

    routes: list[Route | WebSocketRoute | Mount] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
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

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await migrate.upgrade(server.stores.db)
        yield
        await server.stores.db.dispose()

    # Starlette refuses bodies over the limit while they stream in (413, nothing read on).
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        max_body_size=settings.max_upload_bytes + MULTIPART_OVERHEAD,
    )
    app.state.server = server
    return app
