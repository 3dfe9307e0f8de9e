"""A bare graphql-transport-ws / SSE client, for code that needs to see the wire: close
codes, refused handshakes, dropping a connection on purpose."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

TRANSPORT_WS = Subprotocol("graphql-transport-ws")
LEGACY_WS = Subprotocol("graphql-ws")


@asynccontextmanager
async def ws_connection(
    url: str, *, protocol: Subprotocol = TRANSPORT_WS, **kwargs: Any
) -> AsyncIterator[ClientConnection]:
    async with connect(
        url, subprotocols=[protocol], open_timeout=10, close_timeout=2, **kwargs
    ) as ws:
        yield ws


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def init(ws: ClientConnection, token: str) -> dict[str, Any]:
    await send(ws, {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    return await receive(ws)


async def subscribe(
    ws: ClientConnection, id: str, query: str, variables: dict[str, Any] | None = None
) -> None:
    await send(
        ws, {"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )


async def sse_events(
    client: httpx.AsyncClient,
    url: str,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[str, Any]]:
    """GraphQL over SSE (distinct connections): yields (event name, decoded data)."""
    async with client.stream(
        "POST",
        url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        event, data = "message", ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif line == "":
                if data or event != "message":
                    yield event, json.loads(data) if data else None
                event, data = "message", ""
