"""`/mcp`: the MCP server over Streamable HTTP, behind the API's own bearer tokens.

Every request is authenticated like a GraphQL request (owner and `space` claim); a
request without a usable token gets 401 before the SDK sees it. A session belongs to the
owner and space that opened it: the SDK answers a request for it with other credentials
as if the session did not exist. Tools act for the credentials of each request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.context import RequestContext
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from api.auth import Authenticator, AuthError
from api.mcp.server import build_mcp_server
from api.proxy import request_origin
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Caller, Stores

MCP_PATH = "/mcp"
_CALLER = "meimages.mcp.caller"


def _caller_of(context: RequestContext[Any, Any, Any]) -> tuple[Caller, str]:
    request = context.request
    if not isinstance(request, Request) or _CALLER not in request.scope:
        raise RuntimeError("an MCP request reached a tool without an authenticated caller")
    caller: Caller = request.scope[_CALLER]
    return caller, request_origin(request.scope)


class QuietSessionEnd(logging.Filter):
    """A client ending its session closes the session's streams under the SDK's writer of
    server-initiated messages, which logs that as an ERROR with a traceback. It is the
    normal end of a session: kept at DEBUG, every other error stays as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.levelno >= logging.ERROR and isinstance(
            error, anyio.ClosedResourceError | anyio.BrokenResourceError
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info = record.exc_text = None
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_QUIET_SESSION_END = QuietSessionEnd()


class McpEndpoint:
    """The ASGI app at `/mcp`; `running()` must enclose the server's lifetime."""

    def __init__(
        self,
        stores: Stores,
        urls: MediaUrlSigner,
        authenticator: Authenticator,
        *,
        stateless: bool = False,
    ) -> None:
        # The SDK logs every message at INFO; the access log already has the requests.
        logging.getLogger("mcp.server.lowlevel.server").setLevel(logging.WARNING)
        transport_log = logging.getLogger("mcp.server.streamable_http")
        if _QUIET_SESSION_END not in transport_log.filters:
            transport_log.addFilter(_QUIET_SESSION_END)
        self.authenticator = authenticator
        # Stateless: no session outlives its request, so none can be told of list changes.
        server = build_mcp_server(stores, urls, _caller_of, list_changes=not stateless)
        self.sessions = StreamableHTTPSessionManager(server, stateless=stateless)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.sessions.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            caller, _ = await self.authenticator.authenticate_request(scope)
        except AuthError as exc:
            response = JSONResponse(
                {"error": "unauthorized", "error_description": str(exc)},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="meimages"'},
            )
            await response(scope, receive, send)
            return
        scope[_CALLER] = caller
        # The SDK binds a session to the principal that opened it: owner and space.
        scope["user"] = AuthenticatedUser(
            AccessToken(
                token="",
                client_id=f"space:{caller.space_id}",
                scopes=[],
                subject=caller.owner_id,
            )
        )
        await self.sessions.handle_request(scope, receive, send)
