"""The composition root: every long-lived object of a server is built here, from Settings.

`build_server` makes what every command needs (stores, URL signer, authenticator);
`build_graphql` adds the schema, the view and the query cache for the HTTP server.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode
from starlette.types import ASGIApp
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
)

from api.auth import Authenticator
from api.compiler.operations import CompiledOperations
from api.documents import QueryDocuments
from api.observability.server import Observability
from api.persisted_queries import PersistedQueries
from api.query_cache import QueryCache
from api.request_rate import OperationRate
from api.settings import ConfigError, Settings
from api.trusted_documents import TrustedDocuments, TrustedDocumentsOnly
from api.views.graphql import MeImagesGraphQL
from resolvers.cache_budget import CacheBudget
from resolvers.config import Configuration
from resolvers.config.signing import SigningIdentity
from resolvers.generation import provenance
from resolvers.media.signed_urls import MediaUrlSigner, url_memo
from resolvers.stores import ReadCaches, Stores
from schema import SchemaOptions, build_schema
from schema.build import validation_rules
from schema.caching import CLOCK_DEPENDENT_FIELDS
from schema.cost import operation_cost
from schema.strawberry_compat import graphql_schema
from storage.blob_stores import open_blob_store
from storage.blobs import S3Credentials
from storage.crypto import KeyFile, MasterKey, MasterKeyring
from storage.db import Database
from storage.erasures import ErasureJournal
from storage.keys import FieldVault
from storage.persisted_documents import PersistedDocuments
from storage.rate_counters import RateCounters

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

MAX_SUBSCRIPTIONS_PER_CONNECTION = 20
log = logging.getLogger("meimages")


@dataclass
class Server:
    """Everything one running instance holds; tests reach in through `app.state.server`."""

    settings: Settings
    stores: Stores
    urls: MediaUrlSigner
    authenticator: Authenticator
    observability: Observability
    # The locked query surface: the manifest of our clients' documents, and the texts
    # automatic persisted query clients registered (api.persisted_queries).
    trusted: TrustedDocuments = field(default_factory=TrustedDocuments)
    persisted_documents: PersistedDocuments = field(default_factory=PersistedDocuments)


@dataclass
class GraphQLEndpoint:
    """The GraphQL view, and the query cache in front of it for HTTP when there is one;
    persisted queries are resolved in front of both."""

    view: MeImagesGraphQL
    query_cache: QueryCache | None
    persisted_queries: ASGIApp | None = None

    @property
    def http(self) -> ASGIApp:
        return self.persisted_queries or self.query_cache or self.view


def load_keyring(settings: Settings) -> MasterKeyring:
    if settings.master_key:
        keys = [MasterKey.from_b64(settings.master_key)]
        keys += [MasterKey.from_b64(k) for k in settings.previous_master_keys]
        return MasterKeyring(keys)
    key_file = KeyFile(settings.master_key_file)
    return MasterKeyring(key_file.load_or_create(), source=key_file)


def load_signing_identity(settings: Settings) -> SigningIdentity:
    """The identity that signs generated images, checked by signing once: a server that
    cannot sign does not start."""
    cert, key = settings.signing_cert_file, settings.signing_key_file
    names = f"{Settings.variable('signing_cert_file')}/{Settings.variable('signing_key_file')}"
    if (cert is None) != (key is None):
        raise ConfigError(f"{names}: set both (the certificate chain and its key) or neither")
    try:
        if cert is not None and key is not None:
            identity = SigningIdentity.load(cert, key)
        else:
            identity = SigningIdentity.embedded(settings.data_dir)
        provenance.check_identity(identity)
    except ValueError as exc:
        where = names if cert is not None else f"the signing identity in {settings.data_dir}"
        raise ConfigError(f"{where}: {exc}") from None
    return identity


def build_server(settings: Settings, *, tracer_provider: TracerProvider | None = None) -> Server:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.embedded_auth or not settings.url_secret:
        settings = settings.with_local_secrets()
    erasures = ErasureJournal(settings.resolved_erasure_journal)
    erasures.ensure()
    caches = ReadCaches(CacheBudget(settings.cache_bytes))
    signed = url_memo(caches.budget)
    urls = MediaUrlSigner(
        settings.url_secret.encode(),
        ttl_s=settings.media_url_ttl_s,
        prefix=f"{settings.public_base_url}/media",
        memo=signed,
    )
    # Export downloads: the same secret and lifetime, on their own route.
    downloads = MediaUrlSigner(
        settings.url_secret.encode(),
        ttl_s=settings.media_url_ttl_s,
        prefix=f"{settings.public_base_url}/exports",
        memo=signed,
    )
    stores = Stores(
        db=Database(
            settings.resolved_database_url, max_connections=settings.db_connections_per_process
        ),
        vault=FieldVault(load_keyring(settings)),
        blobs=open_blob_store(
            settings.blob_url,
            default_dir=settings.resolved_blob_dir,
            credentials=S3Credentials(
                settings.s3_access_key_id, settings.s3_secret_access_key, settings.s3_session_token
            ),
        ),
        rate_counters=RateCounters(settings.redis_url, key_prefix=settings.redis_key_prefix),
        erasures=erasures,
        caches=caches,
        config=Configuration(
            limits=settings.limits(),
            generation=settings.generation_config(),
            signing=load_signing_identity(settings),
            portability=settings.portability_config(downloads),
            rate_limits=settings.rate_limits(),
        ),
    )
    trusted = TrustedDocuments.load(
        settings.trusted_documents,
        settings.trusted_documents_file,
        graphiql_exempt=settings.graphiql_enabled and not settings.production,
    )
    persisted = PersistedDocuments(settings.redis_url, key_prefix=settings.redis_key_prefix)
    if not settings.redis_url and not stores.db.is_sqlite:
        # PostgreSQL means instances may be many; without Redis each counts on its own.
        log.warning(
            "MEIMAGES_REDIS_URL is not set: rate limits and persisted queries are kept per "
            "process; set it when more than one instance serves this database"
        )
    # Tracing follows the OTEL_* environment unless a caller (a test) brings its provider.
    observability = Observability.build(settings, stores, tracer_provider=tracer_provider)
    authenticator = Authenticator(settings, stores.caches.budget)
    return Server(settings, stores, urls, authenticator, observability, trusted, persisted)


def schema_options(
    settings: Settings,
    trusted: TrustedDocuments | None = None,
    observability: Observability | None = None,
) -> SchemaOptions:
    # The door's own rules, run where every transport passes: operations over a
    # WebSocket are counted one by one; under `require` only trusted documents run.
    extensions: list[Callable[[], SchemaExtension]] = []
    if settings.rate_requests_per_second > 0:
        extensions.append(OperationRate)
    if trusted is not None and trusted.mode == "require":
        extensions.append(partial(TrustedDocumentsOnly, trusted))
    return SchemaOptions(
        extensions=tuple(extensions),
        outer_extensions=observability.schema_extensions() if observability else (),
        introspection=settings.introspection_enabled,
        suggestions=not settings.production,
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_cost=settings.max_query_cost,
    )


def build_graphql(server: Server) -> GraphQLEndpoint:
    options = replace(
        schema_options(server.settings, server.trusted, server.observability),
        cache_budget=server.stores.caches.budget,
    )
    schema = build_schema(options)
    sdl = schema.as_str()
    # The view and the cache judge documents with the parser limits the schema enforces.
    documents = QueryDocuments(
        graphql_schema(schema),
        max_tokens=options.max_tokens,
        clock_dependent=CLOCK_DEPENDENT_FIELDS,
        budget=server.stores.caches.budget,
    )
    settings = server.settings
    # Traced operations keep their spans (operation, parsing, validation): the plans run no
    # Strawberry extension, so with tracing on graphql-core runs every operation.
    traced = server.observability.tracing is not None
    compiled = CompiledOperations(
        schema,
        documents,
        validation_rules(options),
        admits=_plan_admits(schema, options, server),
        budget=server.stores.caches.budget,
        queries=settings.compiled_reads and not traced,
        mutations=settings.compiled_mutations and not traced,
    )
    view = _graphql_view(server, schema, documents, compiled)
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
            on_lookup=server.observability.query_cache_lookup,
        )
        if entries > 0
        else None
    )
    persisted = PersistedQueries(
        query_cache or view,
        store=server.persisted_documents,
        trusted=server.trusted,
        documents=documents,
    )
    return GraphQLEndpoint(view, query_cache, persisted)


def _plan_admits(
    schema: Schema, options: SchemaOptions, server: Server
) -> Callable[[DocumentNode, str | None, Mapping[str, Any] | None], bool]:
    """What a compiled plan may answer: what the schema's pre-execution extensions would
    let run (they do not run for plans) — a cost within the limit, and under `require` a
    trusted document."""
    trusted, core_schema = server.trusted, graphql_schema(schema)

    def admits(
        document: DocumentNode, operation: str | None, variables: Mapping[str, Any] | None
    ) -> bool:
        if trusted.mode == "require" and not trusted.trusts(document, operation):
            return False
        return operation_cost(core_schema, document, operation, variables) <= options.max_cost

    return admits


def _graphql_view(
    server: Server, schema: Schema, documents: QueryDocuments, compiled: CompiledOperations
) -> MeImagesGraphQL:
    settings = server.settings
    return MeImagesGraphQL(
        schema,
        stores=server.stores,
        urls=server.urls,
        authenticator=server.authenticator,
        documents=documents,
        compiled=compiled if compiled.queries or compiled.mutations else None,
        on_compiled=server.observability.compiled,
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
