"""The error body of each door, declared once.

GraphQL answers `{"errors": [{"message", "extensions": {"code"}}]}`, the REST routes
`{"error": {"code", "message", …}}`, anything else plain text.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from api.observability.request_id import current_request_id
from resolvers.errors import StoreUnavailable

log = logging.getLogger("meimages.api")


def graphql_error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    extensions: dict[str, Any] = {"code": code, **(details or {})}
    if (rid := current_request_id()) is not None:
        extensions["requestId"] = rid
    return JSONResponse(
        {"errors": [{"message": message, "extensions": extensions}]},
        status_code=status,
        headers=headers,
    )


def rest_error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def refusal(
    path: str,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    """A refusal in the error shape of the door the request was sent to; `details` go
    beside the code (GraphQL extensions, REST error fields)."""
    if path == "/graphql":
        return graphql_error(status, code, message, headers, details)
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
        request.url.path,
        error.http_status,
        error.code,
        error.message,
        {"Retry-After": str(error.retry_after_s)},
    )
