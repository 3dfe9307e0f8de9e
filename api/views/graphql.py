"""GraphQL over HTTP and WebSocket: auth, CSRF preflight, GraphQL-over-HTTP media types."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from json import JSONDecodeError
from typing import Any, cast

import orjson
from cross_web import HTTPException
from graphql import OperationType
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from api.auth import Authenticator, AuthError
from api.compiler.mutations import REPLAYED, Replay
from api.compiler.operations import CompiledOperations
from api.documents import QueryDocuments
from api.error_bodies import GRAPHQL_RESPONSE_JSON, graphql_error
from api.proxy import request_origin, signer_for
from api.request_checks import (
    RequestRefused,
    check_csrf,
    graphql_multipart,
    preflight_missing,
    read_body,
    replay_body,
)
from api.views.graphql_transport import (
    DEFAULT_MAX_MESSAGE_BYTES,
    CappedMultipartRequest,
    LegacyGraphQLWSHandler,
    PreferredSSETransport,
    SizeCappedWebSocket,
    TransportWSHandler,
    close_open_forms,
    event_groups_for,
    json_content_type,
    plain_request,
)
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Stores
from schema.context import RequestContext

# Connection parameters a graphql-ws client may carry its token in (any case).
_TOKEN_PARAMS = ("authorization", "authtoken", "token")
# Where `_compiled` leaves a replayed mutation's sub-response and context in the scope.
_PREPARED = "meimages.prepared"


class MeImagesGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with the rules of this server around it."""

    websocket_adapter_class = SizeCappedWebSocket
    request_adapter_class = CappedMultipartRequest
    graphql_ws_handler_class = LegacyGraphQLWSHandler
    graphql_transport_ws_handler_class = TransportWSHandler
    stream_transport_classes_by_protocol = {
        **GraphQL.stream_transport_classes_by_protocol,
        GRAPHQL_SSE_PROTOCOL: PreferredSSETransport,
    }

    def __init__(
        self,
        *args: Any,
        stores: Stores,
        urls: MediaUrlSigner,
        authenticator: Authenticator,
        documents: QueryDocuments,
        compiled: CompiledOperations | None = None,
        on_compiled: Callable[[str | None, OperationType, float], None] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stores = stores
        self.urls = urls
        self.authenticator = authenticator
        self.documents = documents
        self.compiled = compiled
        self.on_compiled = on_compiled
        self.max_message_bytes = max_message_bytes
        # Where `meImageEvents` subscribers over graphql-transport-ws are delivered to.
        self.event_groups = event_groups_for(self.schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            await self._answer(scope, receive, send)
        finally:
            await close_open_forms(scope)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        accept = headers.get("accept", "")
        try:
            if headers.get("content-type", "").lower().startswith("multipart/"):
                # Refuse before a byte of the body is parsed: both checks need only headers.
                check_csrf(scope["method"], headers)
                await self.authenticator.authenticate_request(scope)
            response = None
            if self.compiled is not None:
                response, receive = await self._compiled(scope, receive, headers)
            if response is None:
                # Strawberry's own `__call__` answers its refusals as text/plain; here every
                # refusal is a GraphQL error body with a code, in the media type asked for.
                response = await self.run(Request(scope, receive=receive))
        except AuthError as exc:
            response = graphql_error(
                401, "UNAUTHENTICATED", str(exc), {"WWW-Authenticate": "Bearer"}, accept=accept
            )
        except RequestRefused as exc:
            response = graphql_error(
                exc.status, exc.code, exc.message, accept=accept, **(exc.details or {})
            )
        except HTTPException as exc:
            response = graphql_error(
                exc.status_code, refusal_code(exc), exc.reason, _allow(exc), accept=accept
            )
        await response(scope, receive, send)

    async def _compiled(
        self, scope: Scope, receive: Receive, headers: Headers
    ) -> tuple[Response | None, Receive]:
        """The answer of a query (or mutation) its compiled plan gives, made without
        Strawberry's view: the request read once, then the view's own steps in its order —
        context (CSRF, authentication: its refusals raise as they would there), plan,
        result, response. None (and the `receive` that replays what was read) for anything
        else: the usual path answers it, reusing what was read here (`plain_request`).

        A mutation whose resolver ran and whose plan left the answer to graphql-core
        (`Replay`) goes the usual path too, with this request's context and sub-response
        (`_PREPARED`): its root resolver hands back the outcome it gave instead of running
        again (`api.compiler.mutations`)."""
        assert self.compiled is not None
        method = scope["method"]
        if method not in ("GET", "POST") or preflight_missing(method, headers):
            return None, receive
        body = b""
        if method == "POST":
            if not json_content_type(headers.get("content-type", "")):
                return None, receive
            body = await read_body(receive)
            receive = replay_body(body, receive)
        data = plain_request(self, scope, headers, body)
        if (
            data is None
            or data.extensions is not None
            or not isinstance(data.query, str)
            or not isinstance(data.operation_name, str | None)
        ):
            return None, receive
        kind = self.documents.operation_type(data.query, data.operation_name)
        # Only what the plans answer gets a context here (the usual path would make it
        # again); a mutation only to POST: GET refuses it (405) the usual way.
        if kind not in self.compiled.kinds or (kind is OperationType.MUTATION and method != "POST"):
            return None, receive
        request = Request(scope, receive=receive)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        started = time.perf_counter()
        try:
            result = await self.compiled.execute(
                data.query, data.variables, data.operation_name, None, context
            )
        except Replay as replay:
            context.extra[REPLAYED] = replay.outcome
            context.started_at = started
            scope[_PREPARED] = (sub_response, context)
            return None, receive
        if result is None:
            return None, receive
        if self.on_compiled is not None:  # the operation metrics see it too
            name = self.documents.operation_name(data.query, data.operation_name)
            self.on_compiled(name, kind, time.perf_counter() - started)
        return self.create_response(
            await self.process_result(request, result), sub_response
        ), receive

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        prepared = request.scope.get(_PREPARED)
        if prepared is not None:  # checked and authenticated by `_compiled`
            return cast("RequestContext", prepared[1])
        context = RequestContext(
            stores=self.stores,
            urls=signer_for(self.urls, request.scope),
            origin=request_origin(request.scope),
            request=request,
            response=response,
        )
        if isinstance(request, WebSocket):
            return context  # authenticated in on_ws_connect
        if _wants_ide(request):
            return context
        check_csrf(request.method, request.headers)
        # The expiry ends long-lived responses (SSE subscriptions) when the token does.
        context.caller, context.extra["token_exp"] = await self.authenticator.authenticate_request(
            request.scope
        )
        return context

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:
        authorization = _connection_authorization(context.connection_params)
        if authorization is None and isinstance(context.request, WebSocket):
            authorization = context.request.headers.get("authorization")
        try:
            context.caller, context.extra["token_exp"] = await self.authenticator.authenticate(
                authorization
            )
        except AuthError as exc:
            raise ConnectionRejectionError({"message": str(exc)}) from exc
        return None

    async def render_graphql_ide(self, request: Request) -> Response:
        return RedirectResponse("/graphiql", status_code=302)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        request: Request | None = getattr(sub_response, "_meimages_request", None)
        if request is not None and GRAPHQL_RESPONSE_JSON in request.headers.get("accept", ""):
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
            if getattr(request.state, "request_error", False):
                response.status_code = 400
        return response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data = process_result(result)
        errors = result.errors or []
        if result.data is None and errors and all(error.path is None for error in errors):
            # GraphQL over HTTP: a document that failed to parse or validate never
            # executed, so the response has no `data` entry at all.
            data.pop("data", None)
            request.state.request_error = True
        return data

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        if self._subscription_over_http(kwargs.get("request_data")):
            raise CodedHTTPException(
                400,
                "subscriptions need a WebSocket (graphql-transport-ws or graphql-ws) "
                "or Server-Sent Events (graphql-sse)",
                SUBSCRIPTION_NEEDS_STREAM,
            )
        return await super().execute_operation(*args, **kwargs)

    def _subscription_over_http(self, data: object) -> bool:
        return (
            isinstance(data, GraphQLRequestData)
            and data.protocol == "http"
            and isinstance(data.query, str)
            and isinstance(data.operation_name, str | None)
            and self.documents.operation_type(data.query, data.operation_name)
            is OperationType.SUBSCRIPTION
        )

    async def parse_http_body(self, request: Any) -> Any:
        # A request `_compiled` read and passed on is not read twice.
        parsed = request.parsed() if isinstance(request, CappedMultipartRequest) else None
        return parsed if parsed is not None else await super().parse_http_body(request)

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        # Queries compiled plans answer never get here (`_compiled`).
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            # GraphQL over HTTP: a mutation sent with GET is a wrong method, not a bad request.
            if exc.status_code == 400 and "when using GET" in exc.reason:
                raise CodedHTTPException(405, exc.reason, METHOD_NOT_ALLOWED) from exc
            raise

    async def parse_multipart(self, request: Any) -> dict[str, Any]:
        try:
            form = await request.get_form_data()
        except ValueError as exc:
            raise HTTPException(400, "Unable to parse the multipart body") from exc
        # The spec's structure is checked (and the files put in place) in one place.
        return graphql_multipart(form.form)

    def encode_json(self, data: object) -> str:
        return compact_json(data)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except RecursionError as exc:
            # JSON nested thousands deep is refused like malformed JSON (400 / 4400), not a 500.
            raise JSONDecodeError("nested too deeply", "", 0) from exc

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        prepared = request.scope.get(_PREPARED)
        if prepared is not None:
            return cast("Response", prepared[0])
        sub = await super().get_sub_response(request)
        sub._meimages_request = request  # type: ignore[attr-defined]
        return sub


# The codes of refusals before execution (Apollo Server's where it has one).
BAD_REQUEST = "BAD_REQUEST"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"
SUBSCRIPTION_NEEDS_STREAM = "SUBSCRIPTION_NEEDS_STREAM"
NOT_FOUND = "NOT_FOUND"


_NO_OPERATION = re.compile(r"Unknown operation named|operation type|Must provide operation name")


class CodedHTTPException(HTTPException):
    """A refusal of the view's own, with its stable code."""

    def __init__(self, status_code: int, reason: str, code: str) -> None:
        super().__init__(status_code, reason)
        self.code = code


def refusal_code(exc: HTTPException) -> str:
    """The stable code of a refusal before execution (Strawberry's carry no code: known
    by status, and the one reason that names the operation)."""
    if isinstance(exc, CodedHTTPException):
        return exc.code
    if exc.status_code == 405:
        return METHOD_NOT_ALLOWED
    if exc.status_code == 404:
        return NOT_FOUND
    if _NO_OPERATION.search(exc.reason):  # none by the name given, or several unnamed
        return OPERATION_RESOLUTION_FAILURE
    return BAD_REQUEST


def _allow(exc: HTTPException) -> dict[str, str] | None:
    return {"Allow": "GET, POST"} if exc.status_code == 405 else None


# Dataclasses and dates, which orjson would encode and the standard library refuses, are
# refused here too (by `default`), as they were before orjson wrote the bodies.
_STANDARD_ONLY = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def _refuse(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def compact_json(data: object) -> str:
    """`data` as compact JSON: every response body and event frame of the view.

    orjson writes it (a tenth of the standard library's time for a list of images);
    what orjson refuses and the standard library takes (an int beyond 64 bits, a key
    that is not a string) is written by the standard library. The two differ only in how
    they spell the same JSON: orjson keeps non-ASCII characters as UTF-8 where the
    standard library escapes them (`\\u00e9`)."""
    try:
        return orjson.dumps(data, default=_refuse, option=_STANDARD_ONLY).decode()
    except TypeError:
        return json.dumps(data, separators=(",", ":"))


def _wants_ide(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


def _connection_authorization(params: object) -> str | None:
    """The Authorization value a client put in its connection_init payload, if any."""
    if not isinstance(params, dict):
        return None
    for key, value in params.items():
        if key.lower() in _TOKEN_PARAMS and isinstance(value, str):
            return value if " " in value else f"Bearer {value}"
    return None
