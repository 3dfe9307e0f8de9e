"""GraphQL over HTTP and WebSocket: auth, CSRF preflight, GraphQL-over-HTTP media types."""

from __future__ import annotations

import json
import logging
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from api.auth import Authenticator, AuthError
from resolvers.signed_urls import MediaUrlSigner
from resolvers.stores import Stores
from schema.context import RequestContext

log = logging.getLogger("meimages.http")

PREFLIGHT_HEADERS = (
    "graphql-require-preflight",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)


class CsrfRefused(Exception):
    pass


class MeImagesGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with the rules of this server around it."""

    def __init__(
        self,
        *args: Any,
        stores: Stores,
        urls: MediaUrlSigner,
        authenticator: Authenticator,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stores = stores
        self.urls = urls
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        except AuthError as exc:
            await _error_response(401, "UNAUTHENTICATED", str(exc), {"WWW-Authenticate": "Bearer"})(
                scope, receive, send
            )
        except CsrfRefused:
            await _error_response(
                400,
                "CSRF_PREFLIGHT_REQUIRED",
                "this request needs a GraphQL-Require-Preflight header (CSRF protection)",
            )(scope, receive, send)

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
        context.caller, _exp = await self.authenticator.authenticate(
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

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            # GraphQL over HTTP: a mutation sent with GET is a wrong method, not a bad request.
            if exc.status_code == 400 and "when using GET" in exc.reason:
                raise HTTPException(405, exc.reason) from exc
            raise

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
