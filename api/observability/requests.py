"""The middleware that observes every request: its id, its metrics and its access line.

Pure ASGI (no body buffering): it reads the route template Starlette's router leaves in
the scope, the status from the response start, and counts open WebSocket and SSE
connections while they last.
"""

from __future__ import annotations

import time

from opentelemetry import trace
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import request_id
from api.observability import logs
from api.observability.metrics import Metrics
from api.observability.tracing import REQUEST_ID_ATTRIBUTE

UNMATCHED = "unmatched"
# Any token is a valid HTTP method: others are counted together, so labels stay bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_EVENT_STREAM = b"text/event-stream"


class ObservedRequests:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics | None,
        owner_hash: logs.OwnerHash,
        routes: list[BaseRoute],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.owner_hash = owner_hash
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id.request_id_from(scope["headers"])
        record = request_id.begin(rid)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute(REQUEST_ID_ATTRIBUTE, rid)
        header = (request_id.HEADER, rid.encode())
        websocket = scope["type"] == "websocket"
        method = "WS" if websocket else scope["method"]
        if method not in _METHODS and not websocket:
            method = "OTHER"
        status = 500
        stream: str | None = "websocket" if websocket else None
        if stream is not None and self.metrics is not None:
            self.metrics.connections.labels(stream).inc()
        started = time.perf_counter()

        async def observed_send(message: Message) -> None:
            nonlocal status, stream
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), header]
                message = {**message, "headers": headers}
                if self.metrics is not None and _is_event_stream(headers):
                    stream = "sse"
                    self.metrics.connections.labels(stream).inc()
            elif kind == "websocket.accept":
                status = 101
                message = {**message, "headers": [*message.get("headers", []), header]}
            elif kind == "websocket.close" and status == 500:
                status = 403  # closed before it was accepted: refused
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - started
            route = self._route(scope)
            if self.metrics is not None:
                self.metrics.request_done(route, method, status, seconds, streamed=bool(stream))
                if status == 413 and _is_multipart(scope["headers"]):
                    # Refused while it streamed in, before any rule saw it: still an upload.
                    self.metrics.upload_rejected("TOO_LARGE")
                if stream is not None:
                    self.metrics.connections.labels(stream).dec()
            logs.access_line(
                record,
                owner_hash=self.owner_hash,
                method=method,
                route=route,
                status=status,
                seconds=seconds,
            )

    def _route(self, scope: Scope) -> str:
        """The template of the route that served it: never the raw path, which holds ids."""
        route = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path or "/"
        # Refused before routing (request checks) or no route: find what it was meant for.
        for candidate in self.routes:
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                return getattr(candidate, "path", UNMATCHED) or "/"
        return UNMATCHED


def _is_event_stream(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and v.startswith(_EVENT_STREAM) for k, v in headers)


def _is_multipart(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k == b"content-type" and v.startswith(b"multipart/") for k, v in headers)
