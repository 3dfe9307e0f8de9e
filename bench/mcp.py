"""MCP benchmark: me.listReferenceImages over Streamable HTTP next to the GraphQL query that
reads the same images, on one live server.

    .venv/bin/python -m bench.mcp [--calls 200] [--images 10]

It starts `meimages serve` on a free loopback port (the embedded setup), uploads and opts
in `--images` photos for one owner, then times `--calls` sequential calls of each: the MCP
tool over one open session (official SDK client), and `referenceImages { id mediaId kind
label primaryFor publicUrl thumbnailUrl width height }` over one HTTP connection. Both run
the same resolver (`reference_images`), so the difference is the door: JSON-RPC framing,
the SSE response and the session, against Strawberry and the query cache.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from bench.short import parse_args, server_spawn
from testbed.images import jpeg
from testbed.server import LiveServer, Spawn, start_server

OWNER = "bench"
QUERY = (
    "{ referenceImages { id mediaId kind label primaryFor publicUrl thumbnailUrl width height } }"
)


async def _pool(server: LiveServer, http: httpx.AsyncClient, images: int) -> None:
    gql = server.graphql(http)
    for seed in range(images):
        image = await gql.upload_image(jpeg(seed), user=OWNER, input={"kind": "FACE"})
        await gql.gql(
            "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
            {"id": image["id"]},
            user=OWNER,
        )


def _summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"{name:<28} median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms   n={len(ms)}"


async def run(calls: int, images: int, spawn: Spawn) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as data:
        await _compare(start_server(Path(data), spawn=spawn), calls, images)


async def _compare(server: LiveServer, calls: int, images: int) -> None:
    try:
        headers = server.headers(OWNER)
        async with httpx.AsyncClient(timeout=60) as http:
            await _pool(server, http, images)
            graphql: list[float] = []
            for _ in range(calls):
                start = time.perf_counter()
                reply = await http.post(server.graphql_url, json={"query": QUERY}, headers=headers)
                graphql.append(time.perf_counter() - start)
                assert len(reply.json()["data"]["referenceImages"]) == images
        mcp: list[float] = []
        async with (
            httpx.AsyncClient(headers=headers, timeout=60) as http,
            streamable_http_client(f"{server.url}/mcp", http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            for _ in range(calls):
                start = time.perf_counter()
                result = await session.call_tool("me.listReferenceImages", {})
                mcp.append(time.perf_counter() - start)
                assert (
                    result.structuredContent and len(result.structuredContent["images"]) == images
                )
        print(f"{images} opted-in images, {calls} sequential calls each, loopback")
        print(_summary("GraphQL referenceImages", graphql))
        print(_summary("MCP me.listReferenceImages", mcp))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--images", type=int, default=10)
    args = parse_args(parser, calls=10, images=3)
    asyncio.run(run(args.calls, args.images, server_spawn(args.quick)))


if __name__ == "__main__":
    main()
