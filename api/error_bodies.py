"""The error body of each door, declared once.

GraphQL answers `{"errors": [{"message", "extensions": {"code"}}]}` in the media type the
client accepts (`application/graphql-response+json` when it asks for it, else
`application/json`), the REST routes `{"error": {"code", "message", …}}`, anything else
plain text.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Scope

from api.request_id import current_request_id
from resolvers.errors import StoreUnavailable

log = logging.getLogger("meimages.api")


GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def graphql_media_type(accept: str) -> str:
    """GraphQL over HTTP: the newer media type for clients that list it, JSON otherwise."""
    return GRAPHQL_RESPONSE_JSON if GRAPHQL_RESPONSE_JSON in accept.lower() else "application/json"


def graphql_errors(
    status: int,
    errors: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
    *,
    accept: str = "",
) -> JSONResponse:
    """A GraphQL response that carries only errors (the request did not execute)."""
    for error in errors:
        if (rid := current_request_id()) is not None:
            error.setdefault("extensions", {})["requestId"] = rid
    return JSONResponse(
        {"errors": errors},
        status_code=status,
        headers=headers,
        media_type=graphql_media_type(accept),
    )


def graphql_error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    accept: str = "",
    **extensions: Any,
) -> JSONResponse:
    error = {"message": message, "extensions": {"code": code, **extensions}}
    return graphql_errors(status, [error], headers, accept=accept)


def rest_error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def refusal(
    scope: Scope,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    """A refusal in the error shape of the door the request was sent to; `details` go
    beside the code (GraphQL extensions, REST error fields)."""
    path: str = scope["path"]
    if path == "/graphql":
        accept = Headers(scope=scope).get("accept", "")
        return graphql_error(status, code, message, headers, accept=accept, **(details or {}))
    if path.startswith("/api/"):
        response: Response = rest_error(status, code, message, **(details or {}))
    else:
        response = PlainTextResponse(message, status_code=status)
    response.headers.update(headers or {})
    return response


async def store_unavailable(request: Request, error: Exception) -> Response:
    """A store that is down or full, met by any route: 503 (507 when full) with
    Retry-After, in the door's shape; never a 500."""
    assert isinstance(error, StoreUnavailable)
    log.warning("%s %s: %s (%s)", request.method, request.url.path, error.message, error.__cause__)
    return refusal(
        request.scope,
        error.http_status,
        error.code,
        error.message,
        {"Retry-After": str(error.retry_after_s)},
    )
