"""What a request must look like before any route, view or resolver sees it.

Every rule about the shape of a request lives here, so no door has to defend itself:

- the path: no NUL, control characters, surrogates or undecodable escapes, not over-long
  (`RequestChecks`); every path parameter of every route matches its declared alphabet
  (`checked_routes`) — a failure is the same 404 an unknown id gets;
- the headers: a usable `Content-Length`, a multipart boundary where one is needed;
- the body: within the size limit (413, in the door's own error shape), JSON bodies UTF-8
  and an object or array at the top (400);
- GraphQL multipart requests: `operations` and `map` as the spec defines them
  (`graphql_multipart`), checked when the view has parsed the form;
- CSRF: a request a plain HTML form or <img> could send carries one of the
  `PREFLIGHT_HEADERS` (`check_csrf`);
- token claims: `clean_id` is the test `api.auth` applies to `sub` and `space`.

A failed check answers 4xx; nothing malformed reaches the database.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Generator, Iterable, Mapping
from typing import Any, TypeGuard, cast
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, UploadFile
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.error_bodies import refusal

# Control characters (tab, CR and LF too: none belongs in a path or an id), surrogates
# (no UTF-8 can carry them) and U+FFFD, which is what an undecodable %-escape becomes.
_UNCLEAN = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffd]")
MAX_PATH = 1024
MAX_ID = 200

# The alphabet of every path parameter of every route, by name. A route with a parameter
# that is not declared here fails at start-up, so a new route cannot skip the check.
PATH_PARAMS: dict[str, re.Pattern[str]] = {
    "media_id": re.compile(r"[A-Za-z0-9_-]{1,64}"),
    "variant": re.compile(r"[a-z0-9.-]{1,40}"),
    "export_id": re.compile(r"[A-Za-z0-9-]{1,64}"),
}
# Query parameters a route reads itself (not through a GraphQL parser), by route path.
QUERY_PARAMS: dict[str, dict[str, re.Pattern[str]]] = {
    "/media/{media_id}/{variant}": {
        "exp": re.compile(r"[0-9]{1,12}"),
        "sig": re.compile(r"[0-9a-f]{1,64}"),
    },
    "/exports/{export_id}/archive.zip": {
        "exp": re.compile(r"[0-9]{1,12}"),
        "sig": re.compile(r"[0-9a-f]{1,64}"),
    },
}

# RFC 2046: a boundary is 1 to 70 characters from this set (a space only inside).
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]")
_JSON_SPACE = " \t\r\n\ufeff"
# The multipart map: a path is `variables.<name>` followed by keys or list indexes.
MAX_MAP_PATH_PARTS = 16

NOT_FOUND = PlainTextResponse("Not Found", status_code=404)

# Headers no HTML form or <img> can send: one of them shows the request came from a
# script, which the browser's CORS rules hold to this server's allowed origins.
PREFLIGHT_HEADERS = (
    "GraphQL-Require-Preflight",
    "Apollo-Require-Preflight",
    "X-Apollo-Operation-Name",
)
# Content types a form can send without a CORS preflight ("" is no body at all).
_SIMPLE_CONTENT_TYPES = (
    "",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "text/plain",
)


class RequestRefused(Exception):
    """A request that breaks a rule here; the message is safe to show to the client."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        code: str = "BAD_REQUEST",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        # Machine-readable facts of the refusal (e.g. `maxBytes` of a 413), beside the code.
        self.details = details or {}


class SlowBody(RequestRefused):
    """The body stalls or trickles: a slowloris-style client holding a connection open."""

    def __init__(self) -> None:
        super().__init__("the request body arrived too slowly", 408, "REQUEST_TIMEOUT")


def deadline_receive(receive: Receive, *, idle_s: float, total_s: float) -> Receive:
    """`receive` that raises `SlowBody` when the next piece of the body takes longer than
    `idle_s`, or the whole body longer than `total_s`. Once the body is complete it
    passes through untouched: waiting for a disconnect (SSE, long responses) is not a body.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_s
    complete = False

    async def timed() -> Message:
        nonlocal complete
        if complete:
            return await receive()
        # What has arrived already is taken at once, without a timer: the usual case, a
        # small body sent with its headers. Only a receive that has to wait goes on under
        # the deadline (a timer per request cost as much as a tenth of a list read).
        steps = receive().__await__()
        try:
            waiting_on = steps.send(None)
        except StopIteration as done:
            message: Message = done.value
        else:
            try:
                async with asyncio.timeout(min(idle_s, max(0.0, deadline - loop.time()))):
                    message = await _Continued(steps, waiting_on)
            except TimeoutError:
                raise SlowBody() from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            complete = True
        return message

    return timed


class _Continued:
    """The rest of an awaitable whose first step suspended on `waiting_on`: awaiting this
    hands each wait to the running task and each outcome back, as `await` itself would
    have done from there on (`yield from`'s rules: a cancellation is thrown in)."""

    __slots__ = ("steps", "waiting_on")

    def __init__(self, steps: Generator[Any, Any, Message], waiting_on: Any) -> None:
        self.steps = steps
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Message]:
        steps, waiting_on = self.steps, self.waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                steps.close()
                raise
            except BaseException as exc:  # handed on, as `await` does
                try:
                    waiting_on = steps.throw(exc)
                except StopIteration as done:
                    return cast("Message", done.value)
            else:
                try:
                    waiting_on = steps.send(sent)
                except StopIteration as done:
                    return cast("Message", done.value)


class _TooLarge(Exception):
    pass


def clean_text(value: str) -> bool:
    """No NUL, control characters, surrogates or replacement characters."""
    return _UNCLEAN.search(value) is None


def clean_id(value: object, max_len: int = MAX_ID) -> TypeGuard[str]:
    """An identifier from outside (a token claim): a non-empty, storable, printable string."""
    return isinstance(value, str) and 0 < len(value) <= max_len and clean_text(value)


# CSRF -------------------------------------------------------------------------------


def preflight_missing(method: str, headers: Headers) -> bool:
    """Apollo-style: anything a plain HTML form or <img> could send needs a custom header."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    simple = method == "GET" or content_type in _SIMPLE_CONTENT_TYPES
    return simple and not any(headers.get(name) for name in PREFLIGHT_HEADERS)


def check_csrf(method: str, headers: Headers) -> None:
    if preflight_missing(method, headers):
        raise RequestRefused(
            "this request needs a GraphQL-Require-Preflight header (CSRF protection)",
            code="CSRF_PREFLIGHT_REQUIRED",
        )


# The middleware ----------------------------------------------------------------------


class RequestChecks:
    """ASGI middleware: path, headers and body size and encoding, before routing."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        larger_bodies: Mapping[str, int] | None = None,
        body_idle_timeout_s: float = 30.0,
        body_timeout_s: float = 300.0,
        envelope_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # What a body may hold beside its file (multipart framing): a 413 names the file
        # limit a person can act on (`maxBytes`), the body limit less this.
        self.envelope_bytes = envelope_bytes
        # Paths that take more than the upload limit (archive imports), by exact path.
        self.larger_bodies = dict(larger_bodies or {})
        self.body_idle_timeout_s = body_idle_timeout_s
        self.body_timeout_s = body_timeout_s

    def _limit(self, scope: Scope) -> int:
        return self.larger_bodies.get(scope["path"], self.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > MAX_PATH or not clean_text(path):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1000, "reason": ""})
            else:
                await NOT_FOUND(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        # Archive imports may be large on a slow link: only the idle timeout bounds them.
        total_s = math.inf if path in self.larger_bodies else self.body_timeout_s
        receive = deadline_receive(receive, idle_s=self.body_idle_timeout_s, total_s=total_s)
        try:
            body = await self._checked_body(scope, receive)
        except RequestRefused as exc:
            await _refuse(scope, receive, send, exc)
            return
        if body is not None:
            # Read whole and checked: no more of it can come, so neither its size nor its
            # pace needs watching any longer (`_run`).
            await self.app(scope, replay_body(body, receive), send)
            return
        await self._run(scope, receive, send)

    async def _checked_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The body when it had to be read to be checked (JSON), else None (streamed later)."""
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None:
            if not length.isascii() or not length.isdigit():
                raise RequestRefused("the Content-Length header is not a number")
            if int(length) > self._limit(scope):
                raise self._too_large(self._limit(scope))
        content_type = headers.get("content-type", "")
        media_type, _, params = content_type.partition(";")
        media_type = media_type.strip().lower()
        if media_type.startswith("multipart/") and not _boundary(params):
            raise RequestRefused("a multipart body needs a valid boundary parameter")
        # No route reads a DELETE body (MCP clients end a session with one that is empty).
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") or "json" not in media_type:
            return None
        try:
            body = await read_body(receive, self._limit(scope))
        except _TooLarge:
            raise self._too_large(self._limit(scope)) from None
        check_json_body(body)
        return body

    def _too_large(self, limit: int) -> RequestRefused:
        max_bytes = max(1, limit - self.envelope_bytes)
        return RequestRefused(
            f"the request body is larger than {limit} bytes (files up to {max_bytes} bytes)",
            413,
            "TOO_LARGE",
            {"maxBytes": max_bytes},
        )

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False
        limit = self._limit(scope)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, self._too_large(limit))
        except SlowBody as exc:
            if started:
                raise
            await _refuse(scope, receive, send, exc)


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: RequestRefused) -> None:
    # A client refused mid-body may still be sending: close the connection after the
    # answer rather than reading the rest.
    headers = {"Connection": "close"} if isinstance(exc, SlowBody) else None
    response = refusal(scope, exc.status, exc.code, exc.message, headers, exc.details)
    await response(scope, receive, send)


def _boundary(params: str) -> bool:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return _BOUNDARY.fullmatch(value) is not None
    return False


async def read_body(receive: Receive, limit: int | None = None) -> bytes:
    """The whole body; `_TooLarge` as soon as it grows past `limit` (None: the body
    was checked on its way in, by `RequestChecks`)."""
    chunks: list[bytes] = []
    size = 0
    while True:  # bounded: each round consumes a message, and the size is capped
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read here, then the rest of the messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def check_json_body(body: bytes) -> None:
    """UTF-8, and an object or array at the top (anything else is never a GraphQL request).

    Only the first character is looked at: a body that starts with `{` or `[` is an
    object or an array if it is JSON at all, and the view refuses what is not JSON.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRefused("the request body is not UTF-8") from None
    start = text.lstrip(_JSON_SPACE)[:1]
    if start not in ("{", "["):
        raise RequestRefused("the request body must be a JSON object")


# Path parameters -----------------------------------------------------------------------


class _CheckedParams:
    """Answers 404 unless every path (and read query) parameter matches its alphabet."""

    def __init__(
        self, app: ASGIApp, params: Iterable[str], query: Mapping[str, re.Pattern[str]]
    ) -> None:
        self.app = app
        self.params = {name: PATH_PARAMS[name] for name in params}
        self.query = query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        values: Mapping[str, Any] = scope.get("path_params", {})
        ok = all(
            isinstance(values.get(name), str) and pattern.fullmatch(values[name])
            for name, pattern in self.params.items()
        )
        if ok and self.query:
            ok = _query_ok(scope, self.query)
        if ok:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
        else:
            await NOT_FOUND(scope, receive, send)


def _query_ok(scope: Scope, rules: Mapping[str, re.Pattern[str]]) -> bool:
    raw = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(raw, keep_blank_values=True):
        rule = rules.get(name)
        if rule is not None and value and not rule.fullmatch(value):
            return False
    return True


def checked_routes(routes: list[BaseRoute]) -> list[BaseRoute]:
    """Put the path parameter check in front of every route that has parameters."""
    for route in routes:
        if not isinstance(route, Route | WebSocketRoute) or not route.param_convertors:
            continue
        unknown = set(route.param_convertors) - set(PATH_PARAMS)
        if unknown:
            raise ValueError(f"path parameters without a declared alphabet: {sorted(unknown)}")
        route.app = _CheckedParams(
            route.app, route.param_convertors, QUERY_PARAMS.get(route.path, {})
        )
    return routes


# GraphQL multipart requests ---------------------------------------------------------------


def graphql_multipart(form: Mapping[str, Any]) -> dict[str, Any]:
    """The operations of a GraphQL multipart request with its files in place.

    https://github.com/jaydenseric/graphql-multipart-request-spec: `operations` is a JSON
    object, `map` a JSON object from file part names to lists of object paths, each path
    `variables.<name>[.<key or index>…]` pointing at a null placeholder.
    """
    operations = _json_field(form, "operations")
    if not isinstance(operations, dict):
        raise RequestRefused("`operations` must be a JSON object (batching is not enabled)")
    variables = operations.get("variables")
    if not isinstance(variables, dict | None):
        raise RequestRefused("`operations.variables` must be an object or null")
    files_map = _json_field(form, "map")
    if not isinstance(files_map, dict):
        raise RequestRefused("`map` must be a JSON object of file names to lists of paths")
    for name, paths in files_map.items():
        file = form.get(name)
        if not isinstance(file, UploadFile):
            raise RequestRefused(f"`map` names a file part that was not sent: {name!r}"[:200])
        if not isinstance(paths, list) or not paths:
            raise RequestRefused("each entry of `map` must be a non-empty list of paths")
        for path in paths:
            _place(operations, path, file)
    return operations


def _json_field(form: Mapping[str, Any], name: str) -> Any:
    value = form.get(name)
    if not isinstance(value, str):
        raise RequestRefused(f"the multipart field `{name}` is missing (or sent as a file)")
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise RequestRefused(f"the multipart field `{name}` is not valid JSON") from None


def _place(operations: dict[str, Any], path: object, file: UploadFile) -> None:
    bad = RequestRefused("a `map` path must point at a null variable, e.g. `variables.file`")
    if not isinstance(path, str):
        raise bad
    parts = path.split(".")
    if len(parts) < 2 or len(parts) > MAX_MAP_PATH_PARTS or parts[0] != "variables":
        raise bad
    container: Any = operations
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(container, dict):
            if part not in container:
                raise bad
            if last:
                if container[part] is not None:
                    raise bad
                container[part] = file
            else:
                container = container[part]
        elif isinstance(container, list):
            if not (part.isascii() and part.isdigit()) or int(part) >= len(container):
                raise bad
            index = int(part)
            if last:
                if container[index] is not None:
                    raise bad
                container[index] = file
            else:
                container = container[index]
        else:
            raise bad
