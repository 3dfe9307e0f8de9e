"""`meimages mcp`: the MCP server over stdin/stdout for one caller, for desktop clients.

The process is its own small server: the same stores, keys and rules as `serve` (on the
same data folder or database), migrations first, and nothing on stdout but MCP messages.
"""

from __future__ import annotations

from typing import Any

from mcp.server.stdio import stdio_server
from mcp.shared.context import RequestContext

from api.auth import Authenticator
from api.mcp.server import build_mcp_server
from api.settings import Settings
from api.wiring import build_server
from resolvers.stores import Caller
from storage import migrate
from storage.eventlog.listen import NotifyListener


async def caller_from_token(settings: Settings, token: str) -> Caller:
    """The caller a bearer token names, checked as `/mcp` checks it (raises AuthError)."""
    server = build_server(settings)
    try:
        caller, _ = await Authenticator(server.settings).authenticate(f"Bearer {token}")
    finally:
        await server.stores.db.dispose()
    return caller


async def serve_stdio(settings: Settings, caller: Caller) -> None:
    server = build_server(settings)

    # Media links are absolute only when MEIMAGES_PUBLIC_BASE_URL says where the server is.
    def caller_of(_: RequestContext[Any, Any, Any]) -> tuple[Caller, str]:
        return caller, ""

    mcp = build_mcp_server(server.stores, server.urls, caller_of)
    db = server.stores.db
    # Changes come from other processes (the app, `serve`): on PostgreSQL their NOTIFYs
    # wake the resource watcher; SQLite has no such channel, so no list-change notices.
    listener = None if db.is_sqlite else NotifyListener(db.url, server.stores.notifier)
    try:
        await migrate.upgrade(db)
        if listener is not None:
            await listener.start()
        async with stdio_server() as (read, write):
            await mcp.run(read, write, mcp.create_initialization_options())
    finally:
        if listener is not None:
            await listener.stop()
        await server.stores.blobs.close()
        await db.dispose()
