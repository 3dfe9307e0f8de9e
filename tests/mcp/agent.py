"""What the MCP tests share: an official-SDK client session as an owner, and a pool to use."""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp import ClientSession, types
from mcp.client.session import MessageHandlerFnT
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from testbed.graphql import GraphQLClient
from testbed.images import jpeg
from testbed.server import LiveServer
from tests.support.provider_server import GEMINI_KEY as GEMINI_KEY
from tests.support.provider_server import OPENAI_KEY as OPENAI_KEY

TIMEOUT_S = 60.0


def new_owner() -> str:
    return f"agent-{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def mcp_session(
    server: LiveServer,
    user: str,
    space: str | None = None,
    *,
    message_handler: MessageHandlerFnT | None = None,
) -> AsyncIterator[ClientSession]:
    """An initialised session over Streamable HTTP with `user`'s token."""
    headers = server.headers(user, space)
    async with (
        httpx.AsyncClient(headers=headers, timeout=TIMEOUT_S) as http,
        streamable_http_client(f"{server.url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write, message_handler=message_handler) as session,
    ):
        await session.initialize()
        yield session


async def call(
    session: ClientSession, tool: str, arguments: dict[str, Any]
) -> types.CallToolResult:
    return await session.call_tool(tool, arguments)


def error_of(result: types.CallToolResult) -> dict[str, Any]:
    """The error of an error result: JSON text only, no structured content to clash with
    the tool's success `outputSchema`."""
    assert result.isError, result
    assert result.structuredContent is None, result
    text = result.content[0]
    assert isinstance(text, types.TextContent)
    error: dict[str, Any] = json.loads(text.text)["error"]
    return error


def data_of(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.isError, result.content
    assert result.structuredContent is not None
    return result.structuredContent


def images_of(result: types.CallToolResult) -> list[Image.Image]:
    """The image contents of a result, decoded by Pillow."""
    decoded = []
    for block in result.content:
        if isinstance(block, types.ImageContent):
            image = Image.open(io.BytesIO(base64.b64decode(block.data)))
            image.load()
            assert Image.MIME[image.format or ""] == block.mimeType
            decoded.append(image)
    return decoded


class Pool:
    """An owner's pool, changed the way a person changes it: through GraphQL."""

    def __init__(self, gql: GraphQLClient, owner: str, space: str | None = None) -> None:
        self.gql, self.owner, self.space = gql, owner, space

    async def add(self, seed: int, *, opt_in: bool = True, kind: str = "FACE") -> str:
        image = await self.gql.upload_image(
            jpeg(seed), user=self.owner, space=self.space, input={"kind": kind}
        )
        if opt_in:
            await self.opt_in(image["id"], True)
        return str(image["id"])

    async def opt_in(self, image_id: str, enabled: bool) -> None:
        data = await self.mutate(
            "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on)"
            " { __typename } }",
            {"id": image_id, "on": enabled},
        )
        assert data["setAiReferenceEnabled"]["__typename"] == "MeImage"

    async def delete(self, image_id: str) -> None:
        data = await self.mutate(
            "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }", {"id": image_id}
        )
        assert data["deleteMeImage"]["__typename"] == "DeletedMeImage"

    async def kill_switch(self, enabled: bool) -> None:
        await self.mutate(
            "mutation($on: Boolean!) { setAiUsesReferenceImages(enabled: $on) { __typename } }",
            {"on": enabled},
        )

    async def mutate(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.gql.gql(query, variables, user=self.owner, space=self.space)

    async def state(self) -> dict[str, Any]:
        """Everything consent is made of, as GraphQL shows it."""
        return await self.gql.gql(
            "{ meImages { id kind usage { aiReference showInProfile } primaryFor mediaId }"
            " profile { aiUsesReferenceImages credits } }",
            user=self.owner,
            space=self.space,
        )


def grant(server: LiveServer, owner: str, credits: int) -> None:
    done = server.cli("credits", "grant", "--user", owner, str(credits))
    assert done.returncode == 0, done.stderr


def message_of(reply: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC message of a reply, sent as JSON or as one server-sent event."""
    if reply.headers["content-type"].startswith("application/json"):
        body: dict[str, Any] = reply.json()
        return body
    data = [line[5:].strip() for line in reply.text.splitlines() if line.startswith("data:")]
    messages = [json.loads(d) for d in data if d]
    return next(m for m in messages if "id" in m)
