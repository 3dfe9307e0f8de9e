"""The GraphiQL playground: one page and its assets, all served from here (works offline)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

GRAPHIQL_DIR = Path(__file__).resolve().parents[1] / "static" / "graphiql"
GRAPHIQL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


async def graphiql(request: Request) -> Response:
    return FileResponse(
        GRAPHIQL_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": GRAPHIQL_CSP, "X-Content-Type-Options": "nosniff"},
    )


def graphiql_routes() -> list[BaseRoute]:
    return [
        Route("/graphiql", graphiql),
        Mount("/graphiql/assets", StaticFiles(directory=GRAPHIQL_DIR)),
    ]
