"""The error body of each door, declared once.

GraphQL answers `{"errors": [{"message", "extensions": {"code"}}]}`, the REST routes
`{"error": {"code", "message", …}}`, anything else plain text.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

from api.observability.request_id import current_request_id


def graphql_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    extensions = {"code": code}
    if (rid := current_request_id()) is not None:
        extensions["requestId"] = rid
    return JSONResponse(
        {"errors": [{"message": message, "extensions": extensions}]},
        status_code=status,
        headers=headers,
    )


def rest_error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def refusal(path: str, status: int, code: str, message: str) -> Response:
    """A refusal in the error shape of the door the request was sent to."""
    if path == "/graphql":
        return graphql_error(status, code, message)
    if path.startswith("/api/"):
        return rest_error(status, code, message)
    return PlainTextResponse(message, status_code=status)
