"""The composition root: every long-lived object of a server is built here, from Settings.

`build_server` makes what every command needs (stores, URL signer, authenticator);
`build_graphql` adds the schema, the view and the query cache for the HTTP server.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from starlette.types import ASGIApp
from strawberry import Schema
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
)

from api.auth import Authenticator
from api.documents import QueryDocuments
from api.query_cache import QueryCache
from api.settings import Settings
from api.views.graphql import MeImagesGraphQL
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Stores
from schema import SchemaOptions, build_schema
from schema.caching import CLOCK_DEPENDENT_FIELDS
from storage.blobs import S3Credentials, open_blob_store
from storage.crypto import KeyFile, MasterKey, MasterKeyring
from storage.db import Database
from storage.keys import FieldVault

MAX_SUBSCRIPTIONS_PER_CONNECTION = 20


@dataclass
class Server:
    """Everything one running instance holds; tests reach in through `app.state.server`."""

    settings: Settings
    stores: Stores
    urls: MediaUrlSigner
    authenticator: Authenticator


@dataclass
class GraphQLEndpoint:
    """The GraphQL view, and the query cache in front of it for HTTP when there is one."""

    view: MeImagesGraphQL
    query_cache: QueryCache | None

    @property
    def http(self) -> ASGIApp:
        return self.query_cache or self.view


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
    stores = Stores(
        db=Database(settings.resolved_database_url),
        vault=FieldVault(load_keyring(settings)),
        blobs=open_blob_store(
            settings.blob_url,
            default_dir=settings.resolved_blob_dir,
            credentials=S3Credentials(
                settings.s3_access_key_id, settings.s3_secret_access_key, settings.s3_session_token
            ),
        ),
        limits=settings.limits(),
        generation=settings.generation_config(),
    )
    urls = MediaUrlSigner(
        settings.url_secret.encode(),
        ttl_s=settings.media_url_ttl_s,
        prefix=f"{settings.public_base_url}/media",
    )
    # Export downloads: the same secret and lifetime, on their own route.
    stores.portability = settings.portability_config(
        MediaUrlSigner(
            settings.url_secret.encode(),
            ttl_s=settings.media_url_ttl_s,
            prefix=f"{settings.public_base_url}/exports",
        )
    )
    return Server(settings, stores, urls, Authenticator(settings))


def schema_options(settings: Settings) -> SchemaOptions:
    return SchemaOptions(
        introspection=settings.introspection_enabled,
        suggestions=not settings.production,
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
    )


def build_graphql(server: Server) -> GraphQLEndpoint:
    options = schema_options(server.settings)
    schema = build_schema(options)
    sdl = schema.as_str()
    # The view and the cache judge documents with the parser limits the schema enforces.
    documents = QueryDocuments(
        # Strawberry's own graphql-core schema (its extensions read it the same way).
        schema._schema,
        max_tokens=options.max_tokens,
        clock_dependent=CLOCK_DEPENDENT_FIELDS,
    )
    view = _graphql_view(server, schema, documents)
    entries = server.settings.query_cache_entries
    query_cache = (
        QueryCache(
            view,
            documents=documents,
            stores=server.stores,
            authenticator=server.authenticator,
            urls=server.urls,
            build_id=_build_id(sdl, server.settings),
            max_entries=entries,
        )
        if entries > 0
        else None
    )
    return GraphQLEndpoint(view, query_cache)


def _graphql_view(server: Server, schema: Schema, documents: QueryDocuments) -> MeImagesGraphQL:
    settings = server.settings
    return MeImagesGraphQL(
        schema,
        stores=server.stores,
        urls=server.urls,
        authenticator=server.authenticator,
        documents=documents,
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
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
        allowed_origins=settings.allowed_origins,
    )


def _build_id(sdl: str, settings: Settings) -> str:
    """Everything besides data that shapes an answer: cached answers never cross it."""
    parts = [sdl, settings.production, settings.introspection_enabled, settings.public_base_url]
    return hashlib.sha256(repr(parts).encode()).hexdigest()
