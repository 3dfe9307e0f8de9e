"""Answer repeated GraphQL queries of an owner from memory while their data is unchanged.

An owner's pool changes rarely and every write bumps the owner's data version in the same
transaction (`storage.repositories.owners.OwnerRepository.lock`). A query's answer depends only on the caller
(owner, space), the document and variables, that version, and the signed-URL expiry step;
so a response stored under a key made of exactly those can be replayed — and an ETag made
of it answers `If-None-Match` with 304 — without ever serving stale data. The version is
read from the database on every request (or, on SQLite, re-checked against the database's
change stamp), so this holds across several instances too. Fields that also depend on the
clock (credits, generations) are never cached.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    parse,
    visit,
)
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Authenticator, AuthError
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.pool.owners import data_version
from resolvers.stores import Stores

_PREFLIGHT = (b"graphql-require-preflight", b"apollo-require-preflight", b"x-apollo-operation-name")


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    content_type: bytes


# Fields whose answers also depend on the clock (a credit hold or a PENDING generation
# lapses after a while without any write), so no version can vouch for them.
TIME_DERIVED_FIELDS = frozenset({"credits", "generation", "generations"})


@lru_cache(maxsize=1024)
def _parsed(query: str) -> DocumentNode | None:
    """One parse per query text, shared by the questions below; None when it does not parse."""
    try:
        return parse(query, max_tokens=5000)
    except (GraphQLError, RecursionError):
        return None


@lru_cache(maxsize=1024)
def operation_type(query: str, operation_name: str | None) -> OperationType | None:
    """The type of the operation that would run, or None when the document is not usable."""
    document = _parsed(query)
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0].operation if len(operations) == 1 else None
    for op in operations:
        if op.name is not None and op.name.value == operation_name:
            return op.operation
    return None


@lru_cache(maxsize=1024)
def selects_time_derived(query: str) -> bool:
    """Whether the document selects any field in TIME_DERIVED_FIELDS (in any operation)."""
    document = _parsed(query)
    if document is None:
        return True

    class Fields(Visitor):
        found = False

        def enter_field(self, node: FieldNode, *_: object) -> None:
            if node.name.value in TIME_DERIVED_FIELDS:
                self.found = True

    fields = Fields()
    visit(document, fields)
    return fields.found


class QueryCache:
    """ASGI wrapper around the GraphQL view; everything it does not cache passes through."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        stores: Stores,
        authenticator: Authenticator,
        urls: MediaUrlSigner,
        build_id: str,
        max_entries: int = 10_000,
        max_body: int = 512 * 1024,
    ) -> None:
        self.app = app
        self.stores = stores
        self.authenticator = authenticator
        self.urls = urls
        self.build_id = build_id
        self.max_entries = max_entries
        self.max_body = max_body
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        body = b""
        if scope["method"] == "POST":
            if headers.get("content-type", "").split(";")[0].strip() != "application/json":
                await self.app(scope, receive, send)
                return
            body = await _read_body(receive)
        request = _graphql_request(scope, headers, body)
        replay = _replaying(body, receive)
        if request is None:
            await self.app(scope, replay, send)
            return
        query, variables, operation_name = request
        if operation_type(query, operation_name) is not OperationType.QUERY or selects_time_derived(
            query
        ):
            await self.app(scope, replay, send)
            return
        try:
            caller, _exp = await self.authenticator.authenticate(headers.get("authorization"))
        except AuthError:
            await self.app(scope, replay, send)  # the view answers 401 in its own words
            return

        version = await data_version(self.stores, caller)
        accept_graphql = "application/graphql-response+json" in headers.get("accept", "")
        key = hashlib.sha256(
            json.dumps(
                [
                    self.build_id,
                    caller.owner_id,
                    caller.space_id,
                    version,
                    self.urls.expires_at(),
                    accept_graphql,
                    query,
                    variables,
                    operation_name,
                ],
                sort_keys=True,
                separators=(",", ":"),
            ).encode()
        ).hexdigest()
        etag = f'"{key[:40]}"'
        if etag in headers.get("if-none-match", ""):
            self.hits += 1
            await _send(send, 304, None, b"", etag)
            return
        cached = self._entries.get(key)
        if cached is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            await _send(send, 200, cached.content_type, cached.body, etag)
            return
        self.misses += 1
        await self._run_and_store(scope, replay, send, key, etag)

    async def _run_and_store(
        self, scope: Scope, receive: Receive, send: Send, key: str, etag: str
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        assert start is not None
        body = b"".join(chunks)
        raw_headers = [
            (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
        ]
        content_type = next((v for k, v in raw_headers if k.lower() == b"content-type"), b"")
        cacheable = (
            start["status"] == 200
            and content_type.startswith((b"application/json", b"application/graphql-response+json"))
            and len(body) <= self.max_body
            and b'"errors"' not in body
        )
        if cacheable:
            self._entries[key] = CachedResponse(body, content_type)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            raw_headers += _cache_headers(etag)
        raw_headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {"type": "http.response.start", "status": start["status"], "headers": raw_headers}
        )
        await send({"type": "http.response.body", "body": body})

    def clear(self) -> None:
        self._entries.clear()


def _graphql_request(
    scope: Scope, headers: Headers, body: bytes
) -> tuple[str, dict[str, Any] | None, str | None] | None:
    if scope["method"] == "GET":
        if not any(headers.get(name.decode()) for name in _PREFLIGHT):
            return None  # the view refuses it (CSRF) — let it
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        data: Any = {k: v[0] for k, v in params.items()}
        if isinstance(data.get("variables"), str):
            try:
                data["variables"] = json.loads(data["variables"])
            except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
                return None
    else:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # the view refuses it (400), not a 500 here
            return None
    if not isinstance(data, dict):
        return None  # batches and oddities take the normal path
    query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    if not isinstance(query, str) or not (variables is None or isinstance(variables, dict)):
        return None
    if not (name is None or isinstance(name, str)):
        return None
    if data.get("extensions") is not None:
        return None  # extensions can change what runs (or be invalid): never replay those
    return query, variables, name


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _cache_headers(etag: str) -> list[tuple[bytes, bytes]]:
    # Private and always revalidated: the answer belongs to one token's owner.
    return [
        (b"etag", etag.encode()),
        (b"cache-control", b"private, no-cache"),
        (b"vary", b"Authorization"),
    ]


async def _send(
    send: Send, status: int, content_type: bytes | None, body: bytes, etag: str
) -> None:
    headers = _cache_headers(etag)
    if content_type is not None:
        headers.append((b"content-type", content_type))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
