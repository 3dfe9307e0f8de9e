"""How GraphQL requests arrive: capped multipart forms, capped WebSocket messages, and the
legacy graphql-ws protocol with the initialisation timeout graphql-transport-ws has.

The one place that subclasses Strawberry's transport internals (its request and WebSocket
adapters, both WebSocket protocol handlers, the SSE transport; Strawberry's schema internals
are in `schema.strawberry_compat`). `WRITTEN_FOR` names the versions read;
`tests/test_library_fences.py` fails when the installed one is another.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from contextlib import suppress
from functools import lru_cache
from json import JSONDecodeError
from typing import Any, cast

from cross_web import FormData, HTTPException, StarletteRequestAdapter
from graphql import DocumentNode, FieldNode, OperationDefinitionNode, OperationType
from starlette.datastructures import Headers, QueryParams
from starlette.types import Scope
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseView
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.streaming import JSONEncoder, SSETransport
from strawberry.schema import BaseSchema, Schema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.utils.aio import aclosing

from api.views.event_frames import encoded_payload, next_head, next_message
from api.websocket_protocol import SEND_TEXTS
from schema.context import RequestContext
from schema.events.delivery import EventGroups, Handoff, Member, Payload
from schema.strawberry_compat import wraps_resolvers

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"strawberry-graphql": "0.341.", "cross-web": "0.9."}

# One Upload argument per field and at most `max_aliases` fields: a few dozen files is
# plenty (Starlette's default allows 1,000 files, each a spooled temp file).
MAX_MULTIPART_FILES = 32
MAX_MULTIPART_FIELDS = 16
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024
# Frames a connection's writer takes per write: an event's frames for every subscription
# a connection may hold (20) and then some.
WRITE_BATCH = 64
_OPEN_FORMS = "meimages.open_forms"
# The request as `plain_request` read it, for Strawberry's view when it runs after all;
# and a JSON body with the object an outer layer decoded from it (`remember_json_body`).
_PARSED = "meimages.graphql_request"
_JSON_BODY = "meimages.json_body"


class CappedMultipartRequest(StarletteRequestAdapter):
    """Multipart with tight part caps; the form is kept so the view closes it (and its temp files)."""

    async def get_form_data(self) -> FormData:
        form = await self._request.form(
            max_files=MAX_MULTIPART_FILES, max_fields=MAX_MULTIPART_FIELDS
        )
        self._request.scope.setdefault(_OPEN_FORMS, []).append(form)
        return FormData(files=form, form=form)

    def parsed(self) -> GraphQLRequestData | None:
        """The request data `plain_request` already read from this request, if any."""
        parsed: GraphQLRequestData | None = self._request.scope.pop(_PARSED, None)
        return parsed


def remember_json_body(scope: Scope, body: bytes, data: dict[str, Any]) -> None:
    """Keep what a JSON body decoded to, so the view does not decode it again."""
    scope[_JSON_BODY] = (body, data)


@lru_cache(maxsize=64)
def _media_type(content_type: str) -> str:
    return parse_content_type(content_type)[0]


def json_content_type(content_type: str) -> bool:
    """Whether Strawberry's view reads a POST with this Content-Type as JSON."""
    return "application/json" in _media_type(content_type)


# Whether a view answers an Accept header with a stream, by the view's class, its stream
# protocols and the header: a handful of headers in practice (each client sends its
# own); the map is bounded all the same.
_STREAMS: dict[tuple[type, tuple[str, ...], str], bool] = {}
_MAX_STREAMS = 64


def _streams(view: BaseView[Any], accept: str) -> bool:
    """Whether the client prefers one of the view's stream transports (Strawberry's
    `_get_stream_transport_from_headers`, which reads the first Accept header alone;
    each transport's `accepts` judges that text and nothing else)."""
    key = (type(view), tuple(view._stream_transport_map), accept)
    known = _STREAMS.get(key)
    if known is None:
        if len(_STREAMS) >= _MAX_STREAMS:
            _STREAMS.clear()
        known = _STREAMS[key] = (
            view._get_stream_transport_from_headers({"accept": accept}) is not None
        )
    return known


def plain_request(
    view: BaseView[Any], scope: Scope, headers: Headers, body: bytes
) -> GraphQLRequestData | None:
    """One GET or JSON POST operation exactly as Strawberry's `parse_http_body` reads it,
    or None for anything it would read otherwise or refuse (a streaming transport the
    client prefers, a batch, a body that is not a JSON object, members of the wrong type):
    the view's usual path answers those. The data is kept for that path (`parsed`)."""
    if _streams(view, headers.get("accept", "")):
        return None
    data: object
    try:
        if scope["method"] == "GET":
            data = view.parse_query_params(QueryParams(scope["query_string"]))
        else:
            known = scope.get(_JSON_BODY)
            data = known[1] if known is not None and known[0] == body else view.decode_json(body)
    except (ValueError, HTTPException):  # JSONDecodeError is a ValueError
        return None
    if not isinstance(data, dict):
        return None
    query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
    if not (
        isinstance(query, str | None)
        and isinstance(variables, dict | None)
        and isinstance(extensions, dict | None)
    ):
        return None
    parsed = GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=data.get("operationName"),
        extensions=extensions,
        protocol="http",
    )
    scope[_PARSED] = parsed
    return parsed


async def close_open_forms(scope: Scope) -> None:
    """Strawberry never closes the parsed form; its spooled upload files would stay open
    (unlinked but holding disk) until garbage collection."""
    for form in scope.pop(_OPEN_FORMS, ()):
        await form.close()


class SizeCappedWebSocket(ASGIWebSocketAdapter):
    """Closes the connection (1009) on a message larger than the view's cap, in any server."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        limit: int = getattr(self.view, "max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES)
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > limit or len(text.encode()) > limit:
                    await self.ws.close(code=1009, reason=f"messages are limited to {limit} bytes")
                    return
                try:
                    yield self.view.decode_json(text)
                except JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
        except KeyError as exc:
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Mapping[str, object]) -> None:
        # Events shared by many subscribers are encoded once (see event_frames).
        try:
            await self.ws.send_text(next_message(message, self.view.encode_json))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def send_text(self, text: str) -> None:
        """Send a frame already encoded."""
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


def event_groups_for(schema: BaseSchema) -> EventGroups | None:
    """The event groups a view hands `meImageEvents` subscribers to, or None when the
    schema has an extension that must see every resolver call (a group executes an
    event once for all its subscribers, outside their operations)."""
    if not isinstance(schema, Schema):
        return None
    if any(wraps_resolvers(extension) for extension in schema.get_extensions()):
        return None
    return EventGroups()


class TransportWSHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """graphql-transport-ws whose `meImageEvents` subscribers, once their operation
    admitted them, are delivered to by their event group (`schema.events.delivery`)
    through this connection's `SocketSink`, without an operation each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sink = SocketSink(self)

    def _handoff(self, operation: Operation[RequestContext, None]) -> Handoff | None:
        groups: EventGroups | None = getattr(self.view, "event_groups", None)
        documents = getattr(self.view, "documents", None)
        query, name = operation.query, operation.operation_name
        if (
            groups is None
            or documents is None
            or not isinstance(self.schema, Schema)
            or not isinstance(query, str)
            or not isinstance(name, str | None)
            or documents.operation_type(query, name) is not OperationType.SUBSCRIPTION
            or not _selects(documents.parse(query), name, HANDED_OVER)
        ):
            return None
        return Handoff(groups, self.schema, self.sink, operation.id)

    async def run_operation(self, operation: Operation[RequestContext, None]) -> None:
        # Strawberry's, with a root value that lets the subscription hand its subscriber
        # over; a subscriber handed over is no longer this operation's to complete.
        handoff = self._handoff(operation)
        if handoff is not None:
            # A client may send its subscriptions all at once: a few are admitted at a
            # time, so the memory of operations admitting them is not held for all at once
            # (and kept by the allocator after they are gone).
            await handoff.groups.admissions.acquire()
            handoff.on_settled = handoff.groups.admissions.release
        try:
            result_source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.context,
                root_value=handoff if handoff is not None else self.root_value,
                operation_name=operation.operation_name,
            )
            async with aclosing(result_source):
                await self._send_result_stream(operation, result_source)
            member = None if handoff is None else handoff.member
            if member is not None:
                if self.operations.get(operation.id) is operation:
                    self.operations[operation.id] = cast(Any, member)
                return
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise
        finally:
            if handoff is not None:
                handoff.settle()
                member = handoff.member
                if member is not None and self.operations.get(operation.id) is not cast(
                    Any, member
                ):
                    member.close()  # completed, cancelled or closed meanwhile

    def forget(self, member: Member) -> None:
        """The member's `complete` is being sent: its id is free again."""
        if self.operations.get(member.id) is cast(Any, member):
            del self.operations[member.id]

    async def cleanup_operation(self, operation_id: str) -> None:
        entry: object = self.operations.get(operation_id)
        if isinstance(entry, Member):
            del self.operations[operation_id]
            entry.close()
            return
        await super().cleanup_operation(operation_id)

    async def shutdown(self) -> None:
        for operation_id, entry in list(self.operations.items()):
            if isinstance(entry, Member):
                del self.operations[operation_id]
                entry.close()
        await super().shutdown()
        self.sink.close()


# The subscription fields whose subscribers are handed to an event group.
HANDED_OVER = frozenset({"meImageEvents"})


def _selects(document: DocumentNode | None, name: str | None, fields: frozenset[str]) -> bool:
    """Whether the operation selects one of `fields`, as its one root field."""
    if document is None:
        return False
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            selections = definition.selection_set.selections
            return (
                len(selections) == 1
                and isinstance(selections[0], FieldNode)
                and selections[0].name.value in fields
            )
    return False


class SocketSink:
    """The frames event groups queue for one connection, written in order by one task
    that runs while there are any (`schema.events.delivery.Sink`). What is queued when the
    task comes round goes out together (up to WRITE_BATCH frames): with one write where the
    server offers `SEND_TEXTS` (uvicorn through `api.websocket_protocol`), else one
    `send` each."""

    __slots__ = ("frames", "handler", "sent", "writer", "writing")

    def __init__(self, handler: TransportWSHandler) -> None:
        self.handler = handler
        self.frames: deque[tuple[Member, int, Payload | None]] = deque()
        self.writer: asyncio.Task[None] | None = None
        # The members whose frames are being written.
        self.writing: set[Member] = set()
        self.sent: asyncio.Future[None] | None = None

    def push(self, member: Member, seq: int, payload: Payload | None) -> None:
        self.frames.append((member, seq, payload))
        member.queued += 1
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())

    def purge(self, member: Member) -> None:
        if member.queued:
            self.frames = deque(frame for frame in self.frames if frame[0] is not member)
            member.queued = 0

    async def settle(self, member: Member) -> None:
        while member in self.writing:
            if self.sent is None:
                self.sent = asyncio.get_running_loop().create_future()
            await asyncio.shield(self.sent)

    async def send(self, member: Member, payload: Payload) -> None:
        try:
            await self._websocket().send_text(self._next(member, payload))
        except Exception:  # the connection is closing; its shutdown closes the member
            return
        if member.watch is not None:
            member.watch.delivered()

    def close(self) -> None:
        self._drop()
        if self.writer is not None:
            self.writer.cancel()

    def _drop(self) -> None:
        for member, _seq, _payload in self.frames:
            member.queued = 0
        self.frames.clear()

    def _websocket(self) -> SizeCappedWebSocket:
        return cast(SizeCappedWebSocket, self.handler.websocket)

    def _next(self, member: Member, payload: Payload) -> str:
        encode = self.handler.view.encode_json
        if member.head is None:
            member.head = next_head(member.id, encode)
        return member.head + encoded_payload(payload, encode) + "}"

    def _batch(self, encode: Any) -> tuple[list[str], list[Member]]:
        """Up to WRITE_BATCH queued frames, encoded, and the members each event frame is for."""
        texts: list[str] = []
        delivered: list[Member] = []
        frames = self.frames
        while frames and len(texts) < WRITE_BATCH:
            member, seq, payload = frames.popleft()
            member.queued -= 1
            self.writing.add(member)
            if payload is None:
                self.handler.forget(member)
                texts.append(next_message({"id": member.id, "type": "complete"}, encode))
            else:
                member.handed = seq
                texts.append(self._next(member, payload))
                delivered.append(member)
        return texts, delivered

    async def _write(self) -> None:
        websocket = self._websocket()
        send_texts = (websocket.ws.scope.get("extensions") or {}).get(SEND_TEXTS)
        encode = self.handler.view.encode_json
        try:
            while self.frames:
                texts, delivered = self._batch(encode)
                if send_texts is not None:
                    await send_texts(texts)
                else:
                    for text in texts:
                        await websocket.send_text(text)
                for member in delivered:
                    if member.watch is not None:
                        member.watch.delivered()
                self._written()
        except Exception:  # the connection is closing; its shutdown closes the members
            self._drop()
        finally:
            self.writer = None
            self._written()

    def _written(self) -> None:
        self.writing.clear()
        if self.sent is not None:
            self.sent.set_result(None)
            self.sent = None


class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[RequestContext, None]):
    """The legacy graphql-ws protocol with the init timeout graphql-transport-ws has."""

    async def handle(self) -> None:
        timer = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            timer.cancel()

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")


# Media types of a plain GraphQL-over-HTTP answer.
_JSON_TYPES = frozenset({"application/graphql-response+json", "application/json", "*/*"})


def _ranked(accept: str) -> list[tuple[str, float]]:
    """The Accept header's media types with their q, most preferred first (a stable sort
    keeps the client's own order among equals)."""
    ranked = []
    for part in accept.split(","):
        media_type, *params = (piece.strip() for piece in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media_type and q > 0:
            ranked.append((media_type.lower(), q))
    return sorted(ranked, key=lambda item: -item[1])


class PreferredSSETransport(SSETransport):
    """Server-Sent Events only when the client prefers them to JSON. Clients such as
    urql list `text/event-stream` after the JSON types on every request; a query must
    still get its JSON answer then (Strawberry's own check takes any mention)."""

    def accepts(self, accept: str) -> bool:
        for media_type, _q in _ranked(accept):
            if media_type == "text/event-stream":
                return True
            if media_type in _JSON_TYPES:
                return False
        return False

    def encode_next(self, response: GraphQLHTTPResponse, encode_json: JSONEncoder) -> str:
        # Events shared by many subscribers are encoded once (see event_frames).
        return self.encode_event("next", encoded_payload(response, encode_json))
