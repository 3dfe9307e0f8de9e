"""Automatic persisted queries as Apollo defines them, in front of the query cache.

A client sends `extensions.persistedQuery {version: 1, sha256Hash}` without the query;
the server answers `PersistedQueryNotFound` (code `PERSISTED_QUERY_NOT_FOUND`) until the
client sends the hash with the query once, which registers it (a hash that is not the
query's SHA-256 is refused: `PERSISTED_QUERY_HASH_MISMATCH`). With
`MEIMAGES_TRUSTED_DOCUMENTS` on, a trusted document's manifest id works the same without
registration.

The request is then handed on as an ordinary one — the query filled in, the extension
removed — so a hashed GET is answered (and revalidated with ETag / 304) by the query cache
like any other GET, and short enough for a CDN's URL key.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.documents import QueryDocuments
from api.error_bodies import graphql_error
from api.request_checks import read_body, replay_body
from api.trusted_documents import TrustedDocuments, sha256_hex
from api.views.graphql_transport import remember_json_body
from storage.persisted_documents import PersistedDocuments

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
INVALID = "PERSISTED_QUERY_INVALID"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Texts longer than this run but are not kept: registration must not be a way to park
# megabytes in the server's memory or Redis.
MAX_STORED_CHARS = 64 * 1024


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self, scope: Scope) -> JSONResponse:
        accept = Headers(scope=scope).get("accept", "")
        return graphql_error(self.status, self.code, self.message, accept=accept)


class PersistedQueries:
    """ASGI wrapper: resolves persisted query hashes; everything else passes untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: PersistedDocuments,
        trusted: TrustedDocuments,
        documents: QueryDocuments,
    ) -> None:
        self.app = app
        self.store = store
        self.trusted = trusted
        self.documents = documents

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET":
            params = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            data: dict[str, Any] = dict(params)
            extensions = _json_object(data.get("extensions"))
        else:
            if Headers(scope=scope).get("content-type", "").split(";")[0].strip() != (
                "application/json"
            ):
                await self.app(scope, receive, send)
                return
            body = await read_body(receive)
            receive = replay_body(body, receive)
            data = _json_object(body) or {}
            extensions = (
                data.get("extensions") if isinstance(data.get("extensions"), dict) else None
            )
        if not extensions or "persistedQuery" not in extensions:
            if scope["method"] == "POST" and data:
                remember_json_body(scope, body, data)  # the view does not decode it again
            await self.app(scope, receive, send)
            return
        try:
            query = await self._query(extensions["persistedQuery"], data.get("query"), data)
        except _Refusal as refusal:
            await refusal.response(scope)(scope, receive, send)
            return
        rest = {k: v for k, v in extensions.items() if k != "persistedQuery"}
        if scope["method"] == "GET":
            data["query"] = query
            data.pop("extensions", None)
            if rest:
                data["extensions"] = json.dumps(rest)
            scope = {**scope, "query_string": urlencode(data).encode()}
        else:
            data["query"] = query
            data.pop("extensions", None)
            if rest:
                data["extensions"] = rest
            new_body = json.dumps(data).encode()
            scope = _with_length(scope, len(new_body))
            receive = replay_body(new_body, receive)
        await self.app(scope, receive, send)

    async def _query(self, persisted: object, query: object, data: dict[str, Any]) -> str:
        if not (
            isinstance(persisted, dict)
            and persisted.get("version") == 1
            and isinstance(persisted.get("sha256Hash"), str)
            and _SHA256.fullmatch(persisted["sha256Hash"])
        ):
            raise _Refusal(
                400, INVALID, "persistedQuery needs version 1 and a lowercase hex sha256Hash"
            )
        sha = persisted["sha256Hash"]
        if isinstance(query, str):
            if sha256_hex(query) != sha:
                raise _Refusal(400, HASH_MISMATCH, "provided sha does not match query")
            if self._worth_keeping(query, data.get("operationName")):
                await self.store.put(sha, query)
            return query
        known = self.trusted.body(sha) or await self.store.get(sha)
        if known is None:
            # Apollo's clients look for this message (and code) and retry with the text.
            raise _Refusal(200, NOT_FOUND, "PersistedQueryNotFound")
        return known

    def _worth_keeping(self, query: str, operation_name: object) -> bool:
        """Only texts that parse within the limits, and, under `require`, only trusted ones:
        anything else would be refused each time it is named."""
        if len(query) > MAX_STORED_CHARS:
            return False
        document = self.documents.parse(query)
        if document is None:
            return False
        if self.trusted.mode == "require":
            name = operation_name if isinstance(operation_name, str) else None
            return self.trusted.trusts(document, name)
        return True


def _json_object(raw: str | bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _with_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(length).encode()))
    return {**scope, "headers": headers}
