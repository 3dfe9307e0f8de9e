"""The requests-per-second limit at the HTTP doors, and how a door shows any rate refusal.

Each HTTP request of an authenticated owner is counted once, before the door does any
work (`resolvers.rate_limits.admit_request`). A request without a valid token passes
through untouched: the door answers 401 in its own words. Other doors (MCP) call
`admit_request` themselves and show a refusal with `too_many_requests`. Operations over a
WebSocket are counted one by one (`OperationRate`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import GraphQLError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from api.auth import Authenticator, AuthError
from api.error_bodies import graphql_error
from resolvers.rate_limits import RateLimited, admit_request
from resolvers.stores import Stores


def retry_after(error: RateLimited) -> dict[str, str]:
    """The `Retry-After` header of a 429 (RFC 9110: whole seconds)."""
    return {"Retry-After": str(error.retry_after)}


def too_many_requests(scope: Scope, error: RateLimited) -> JSONResponse:
    """429 with `Retry-After`, in the error shape of the door the request was sent to."""
    if scope["path"].startswith("/graphql"):
        accept = Headers(scope=scope).get("accept", "")
        return graphql_error(
            429,
            error.code,
            error.message,
            retry_after(error),
            accept=accept,
            retryAfter=error.retry_after,
        )
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "limit": error.limit,
            "retryAfter": error.retry_after,
        }
    }
    return JSONResponse(body, status_code=429, headers=retry_after(error))


class RequestRate:
    """ASGI wrapper of one door: counts each authenticated HTTP request of an owner."""

    def __init__(self, app: ASGIApp, *, stores: Stores, authenticator: Authenticator) -> None:
        self.app = app
        self.stores = stores
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.stores.config.rate_limits.requests_per_second > 0:
            try:
                # Remembered in the scope: the door behind does not verify the token again.
                caller, _exp = await self.authenticator.authenticate_request(scope)
            except AuthError:
                caller = None
            if caller is not None:
                try:
                    await admit_request(self.stores, caller)
                except RateLimited as exc:
                    await too_many_requests(scope, exc)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class OperationRate(SchemaExtension):
    """The same limit for operations sent over a WebSocket, where one connection carries
    many of them: each counts as a request, refused with `RATE_LIMITED` and `retryAfter`
    before it runs. (HTTP requests are counted by `RequestRate` at the door.)"""

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        request_context = context.context
        caller = getattr(request_context, "caller", None)
        stores = getattr(request_context, "stores", None)
        if (
            isinstance(getattr(request_context, "request", None), WebSocket)
            and caller is not None
            and stores is not None
        ):
            try:
                await admit_request(stores, caller)
            except RateLimited as exc:
                context.pre_execution_errors = [
                    GraphQLError(
                        exc.message,
                        extensions={"code": exc.code, "retryAfter": exc.retry_after},
                    )
                ]
        yield
