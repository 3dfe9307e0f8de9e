"""Answer repeated GraphQL queries of an owner from memory while their data is unchanged.

An owner's pool changes rarely and every write bumps the owner's data version in the same
transaction (`storage.repositories.owners.OwnerRepository.lock`). A query's answer depends only on the caller
(owner, space), the document and variables, that version, and the signed-URL expiry step;
so a response stored under a key made of exactly those can be replayed — and an ETag made
of it answers `If-None-Match` with 304 — without ever serving stale data. The version is
read from the database on every request (or, on SQLite, re-checked against the database's
change stamp), so this holds across several instances too. Fields the schema declares
clock-dependent (`schema.caching`) are never cached.

The cache knows no field names and no token rules of its own: the documents are judged
by `api.documents` under the schema's limits, the caller is the one the view uses too
(authenticated once per request), and the CSRF rule is `api.request_checks`'.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from graphql import OperationType
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Authenticator, AuthError
from api.documents import QueryDocuments
from api.proxy import request_origin
from api.request_checks import preflight_missing, read_body, replay_body
from resolvers.cache_budget import Sizing
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.pool.owners import data_version
from resolvers.stores import Stores

_CACHEABLE_TYPES = (b"application/json", b"application/graphql-response+json")


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    content_type: bytes


@dataclass(frozen=True)
class _Key:
    """Where an answer is kept: its key, and the caller's (owner, space) and the state
    of their data the key was made at (data version, signed-URL expiry step)."""

    digest: str
    caller: tuple[str, str]
    state: tuple[int, int]


@dataclass(frozen=True)
class _Query:
    """A GraphQL request that could be answered from memory: one query, no extensions."""

    query: str
    variables: dict[str, Any] | None
    operation_name: str | None

    @functools.cached_property
    def digest(self) -> str:
        """What the request asks, as part of a key (worked out once per request text)."""
        asked = [self.query, self.variables, self.operation_name]
        encoded = json.dumps(asked, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()


# Request texts (POST bodies, GET query strings) whose reading is remembered, and the
# longest one remembered: clients repeat the same few requests.
_REMEMBERED_REQUESTS = 1024
_MAX_REMEMBERED_REQUEST = 8192
# A remembered reading besides its text, estimated: the `_Query` with its digest and
# dict (~450 B measured) and the query text decoded from the request (as long again).
_READING_BYTES = 450
# A stored answer besides its body, counted: the key (a 64-character str, 113 B), the
# `CachedResponse` (56 B) and its content type bytes object (33 B plus its length).
_ANSWER_BYTES = 202


class QueryCache:
    """ASGI wrapper around the GraphQL view; everything it does not cache passes through."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        documents: QueryDocuments,
        stores: Stores,
        authenticator: Authenticator,
        urls: MediaUrlSigner,
        build_id: str,
        max_entries: int = 10_000,
        max_bytes: int | None = None,
        max_body: int = 512 * 1024,
        on_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self.app = app
        self.documents = documents
        self.stores = stores
        self.authenticator = authenticator
        self.urls = urls
        self.build_id = build_id
        self.max_entries = max_entries
        self.max_body = max_body
        # Bytes, not only entries: answers grow with the pools they list, and every data
        # version of an owner is a new key, so a count alone lets memory creep up. The
        # answers draw on the server's cache budget (and on `max_bytes` of it, if set).
        budget = stores.caches.budget
        self._entries = budget.cache(
            "query_answers", Sizing.ENCODED, max_entries=max_entries, max_bytes=max_bytes
        )
        self._requests = budget.cache(
            "query_requests", Sizing.ESTIMATED, max_entries=_REMEMBERED_REQUESTS
        )
        # Per (owner, space): the data state of their newest answers and those answers'
        # keys. An answer made at an older state can never be asked for again (versions
        # only move on), so it goes when a newer one is stored: the cache holds about one
        # answer per caller and question, instead of filling up with one per write.
        self._current: dict[tuple[str, str], tuple[tuple[int, int], set[str]]] = {}
        self.hits = 0
        self.misses = 0
        self.on_lookup = on_lookup  # told hit (True) or miss (False), for the metrics

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
            body = await read_body(receive)
        receive = replay_body(body, receive)
        query = self._request(scope, headers, body)
        key = await self._key(scope, headers, query) if query is not None else None
        if key is None:
            await self.app(scope, receive, send)
            return
        await self._answer(scope, receive, send, headers, key)

    def _request(self, scope: Scope, headers: Headers, body: bytes) -> _Query | None:
        """`_cacheable_request`, remembered per request text (the CSRF rule is asked anew)."""
        if scope["method"] == "GET":
            if preflight_missing("GET", headers):
                return None  # the view refuses it (CSRF) — let it
            text: bytes = b"GET?" + scope.get("query_string", b"")
        else:
            text = body
        known = self._requests.get(text, _UNREAD)
        if known is not _UNREAD:
            return known  # type: ignore[no-any-return]
        request = _cacheable_request(scope, headers, body)
        if len(text) <= _MAX_REMEMBERED_REQUEST:
            self._requests.put(text, request, _READING_BYTES + 2 * sys.getsizeof(text))
        return request

    async def _key(self, scope: Scope, headers: Headers, request: _Query) -> _Key | None:
        """The key of the answer, or None when it may not be cached."""
        kind = self.documents.operation_type(request.query, request.operation_name)
        if kind is not OperationType.QUERY or self.documents.reads_clock(request.query):
            return None
        try:
            caller, _exp = await self.authenticator.authenticate_request(scope)
        except AuthError:
            return None  # the view answers 401 in its own words
        version = await data_version(self.stores, caller)
        expires_at = self.urls.expires_at()
        accept_graphql = "application/graphql-response+json" in headers.get("accept", "")
        # Ids never hold control characters (`api.request_checks.clean_id`): \x1f separates.
        parts = (
            self.build_id,
            caller.owner_id,
            caller.space_id,
            str(version),
            str(expires_at),
            request_origin(scope),  # media URLs are absolute, under this origin
            "g" if accept_graphql else "j",
            request.digest,
        )
        return _Key(
            hashlib.sha256("\x1f".join(parts).encode()).hexdigest(),
            (caller.owner_id, caller.space_id),
            (version, int(expires_at)),
        )

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, key: _Key
    ) -> None:
        etag = f'"{key.digest[:40]}"'
        if etag in headers.get("if-none-match", ""):
            self._counted(hit=True)
            await _send(send, 304, None, b"", etag)
            return
        cached = self._entries.get(key.digest)
        if cached is not None:
            self._counted(hit=True)
            await _send(send, 200, cached.content_type, cached.body, etag)
            return
        self._counted(hit=False)
        await self._run_and_store(scope, receive, send, key, etag)

    async def _run_and_store(
        self, scope: Scope, receive: Receive, send: Send, key: _Key, etag: str
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
        if self._storable(start["status"], content_type, body):
            self._store(key, CachedResponse(body, content_type))
            raw_headers += _cache_headers(etag)
        raw_headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {"type": "http.response.start", "status": start["status"], "headers": raw_headers}
        )
        await send({"type": "http.response.body", "body": body})

    def _counted(self, *, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        if self.on_lookup is not None:
            self.on_lookup(hit)

    def _storable(self, status: int, content_type: bytes, body: bytes) -> bool:
        return (
            status == 200
            and content_type.startswith(_CACHEABLE_TYPES)
            and len(body) <= self.max_body
            and b'"errors"' not in body
        )

    def _store(self, key: _Key, response: CachedResponse) -> None:
        state, keys = self._current.get(key.caller, (key.state, set()))
        if state != key.state:
            for superseded in keys:
                self._entries.pop(superseded)
            state, keys = key.state, set()
        self._current[key.caller] = (state, keys)
        nbytes = _ANSWER_BYTES + len(response.body) + len(response.content_type)
        self._entries.put(key.digest, response, nbytes)
        keys.add(key.digest)
        if len(self._current) > self.max_entries:
            # Callers whose answers the budget pushed out: forget the oldest ones.
            for caller in list(self._current)[: len(self._current) - self.max_entries]:
                for digest in self._current.pop(caller)[1]:
                    self._entries.pop(digest)


_UNREAD = object()


def _cacheable_request(scope: Scope, headers: Headers, body: bytes) -> _Query | None:
    """The query of a single GraphQL request, or None for anything the view must judge."""
    if scope["method"] == "GET":
        if preflight_missing("GET", headers):
            return None  # the view refuses it (CSRF) — let it
        data = _query_params(scope)
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
    return _Query(query, variables, name)


def _query_params(scope: Scope) -> dict[str, Any] | None:
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    data: dict[str, Any] = {k: v[0] for k, v in params.items()}
    if isinstance(data.get("variables"), str):
        try:
            data["variables"] = json.loads(data["variables"])
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            return None
    return data


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
