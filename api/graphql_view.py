"""GraphQL over HTTP and WebSocket: auth, CSRF preflight, GraphQL-over-HTTP media types."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from json import JSONDecodeError
from typing import Any

from cross_web import FormData, HTTPException, StarletteRequestAdapter
from graphql import GraphQLError, OperationType
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from api.auth import Authenticator, AuthError
from api.query_cache import operation_type
from api.request_checks import RequestRefused, graphql_multipart
from resolvers.errors import DomainError
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Stores
from schema.context import NotAuthenticated, RequestContext

log = logging.getLogger("meimages.http")

PREFLIGHT_HEADERS = (
    "graphql-require-preflight",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)


# One Upload argument per field and at most `max_aliases` fields: a few dozen files is
# plenty (Starlette's default allows 1,000 files, each a spooled temp file).
MAX_MULTIPART_FILES = 32
MAX_MULTIPART_FIELDS = 16
_OPEN_FORMS = "meimages.open_forms"


class _ClientErrorsQuietly(logging.Filter):
    """Strawberry logs every error of a result at ERROR with a traceback. A client's mistake
    (a syntax error, a failed validation, a bad variable, a typed domain error) becomes one
    INFO line instead; real faults keep their ERROR record and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        if not isinstance(error, GraphQLError) or not _client_mistake(error):
            return True
        if log.isEnabledFor(logging.INFO):
            log.info("client error: %s", str(error.message).replace("\n", " ")[:300])
        return False


def _client_mistake(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | DomainError | NotAuthenticated)


def log_client_errors_quietly() -> None:
    logger = logging.getLogger("strawberry.execution")
    if not any(isinstance(f, _ClientErrorsQuietly) for f in logger.filters):
        logger.addFilter(_ClientErrorsQuietly())


class CsrfRefused(Exception):
    pass


class CappedMultipartRequest(StarletteRequestAdapter):
    """Multipart with tight part caps; the form is kept so the view closes it (and its temp files)."""

    async def get_form_data(self) -> FormData:
        form = await self._request.form(
            max_files=MAX_MULTIPART_FILES, max_fields=MAX_MULTIPART_FIELDS
        )
        self._request.scope.setdefault(_OPEN_FORMS, []).append(form)
        return FormData(files=form, form=form)


class SizeCappedWebSocket(ASGIWebSocketAdapter):
    """Closes the connection (1009) on a message larger than the view's cap, in any server."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        limit: int = getattr(self.view, "max_message_bytes", 64 * 1024)
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


class MeImagesGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with the rules of this server around it."""

    websocket_adapter_class = SizeCappedWebSocket
    request_adapter_class = CappedMultipartRequest
    graphql_ws_handler_class = LegacyGraphQLWSHandler

    def __init__(
        self,
        *args: Any,
        stores: Stores,
        urls: MediaUrlSigner,
        authenticator: Authenticator,
        max_message_bytes: int = 64 * 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stores = stores
        self.urls = urls
        self.authenticator = authenticator
        self.max_message_bytes = max_message_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            request = Request(scope)
            if request.headers.get("content-type", "").lower().startswith("multipart/"):
                # Refuse before a byte of the body is parsed: both checks need only headers.
                _check_csrf(request)
                await self.authenticator.authenticate(request.headers.get("authorization"))
            await super().__call__(scope, receive, send)
        except AuthError as exc:
            await _error_response(401, "UNAUTHENTICATED", str(exc), {"WWW-Authenticate": "Bearer"})(
                scope, receive, send
            )
        except RequestRefused as exc:
            await _error_response(exc.status, exc.code, exc.message)(scope, receive, send)
        except CsrfRefused:
            await _error_response(
                400,
                "CSRF_PREFLIGHT_REQUIRED",
                "this request needs a GraphQL-Require-Preflight header (CSRF protection)",
            )(scope, receive, send)
        finally:
            # Strawberry never closes the parsed form; its spooled upload files would stay
            # open (unlinked but holding disk) until garbage collection.
            for form in scope.pop(_OPEN_FORMS, ()):
                await form.close()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        context = RequestContext(
            stores=self.stores, urls=self.urls, request=request, response=response
        )
        if isinstance(request, WebSocket):
            return context  # authenticated in on_ws_connect
        if _wants_ide(request):
            return context
        _check_csrf(request)
        # The expiry ends long-lived responses (SSE subscriptions) when the token does.
        context.caller, context.extra["token_exp"] = await self.authenticator.authenticate(
            request.headers.get("authorization")
        )
        return context

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        authorization: str | None = None
        if isinstance(params, dict):
            for key, value in params.items():
                if key.lower() in ("authorization", "authtoken", "token") and isinstance(
                    value, str
                ):
                    authorization = value if " " in value else f"Bearer {value}"
                    break
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
        if request is not None and _accepts_graphql_response_json(request):
            response.headers["content-type"] = "application/graphql-response+json; charset=utf-8"
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
        data = kwargs.get("request_data")
        if (
            isinstance(data, GraphQLRequestData)
            and data.protocol == "http"
            and isinstance(data.query, str)
            and isinstance(data.operation_name, str | None)
            and operation_type(data.query, data.operation_name) is OperationType.SUBSCRIPTION
        ):
            raise HTTPException(
                400,
                "subscriptions need a WebSocket (graphql-transport-ws or graphql-ws) "
                "or Server-Sent Events (graphql-sse)",
            )
        return await super().execute_operation(*args, **kwargs)

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            # GraphQL over HTTP: a mutation sent with GET is a wrong method, not a bad request.
            if exc.status_code == 400 and "when using GET" in exc.reason:
                raise HTTPException(405, exc.reason) from exc
            raise

    async def parse_multipart(self, request: Any) -> dict[str, Any]:
        try:
            form = await request.get_form_data()
        except ValueError as exc:
            raise HTTPException(400, "Unable to parse the multipart body") from exc
        # The spec's structure is checked (and the files put in place) in one place.
        return graphql_multipart(form.form)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except RecursionError as exc:
            # JSON nested thousands deep is refused like malformed JSON (400 / 4400), not a 500.
            raise JSONDecodeError("nested too deeply", "", 0) from exc

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub = await super().get_sub_response(request)
        sub._meimages_request = request  # type: ignore[attr-defined]
        return sub


def _wants_ide(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


def _check_csrf(request: Request) -> None:
    """Apollo-style: anything a plain HTML form or <img> could send needs a custom header."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    simple = request.method == "GET" or content_type in (
        "",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
        "text/plain",
    )
    if simple and not any(request.headers.get(name) for name in PREFLIGHT_HEADERS):
        raise CsrfRefused()


def _accepts_graphql_response_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/graphql-response+json" in accept


def _error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


def dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))
