"""me.generateWithReference against the provider test server: the GraphQL mutation's own
domain function, so the same checks, credits and records."""

from __future__ import annotations

import uuid

import httpx
import pytest

from testbed.images import decode
from testbed.server import LiveServer
from tests.mcp.agent import (
    OPENAI_KEY,
    Pool,
    data_of,
    error_of,
    grant,
    images_of,
    mcp_session,
    new_owner,
)
from tests.support.provider_server import Mode, ProviderServer


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def credits_of(server: LiveServer, owner: str) -> int:
    async with mcp_session(server, owner) as session:
        return int(data_of(await session.call_tool("me.getProfile", {}))["credits"])


async def test_generates_returns_images_and_charges_once(
    mcp_server: LiveServer, provider: ProviderServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    references = [await pool.add(1), await pool.add(2, kind="FULLBODY")]
    grant(mcp_server, owner, 100)
    arguments = {
        "prompt": "me as an astronaut",
        "referenceImageIds": references,
        "quality": "low",
        "n": 2,
        "idempotencyKey": str(uuid.uuid4()),
    }
    async with mcp_session(mcp_server, owner) as session:
        listed = data_of(await session.call_tool("me.listReferenceImages", {}))["images"]
        result = await session.call_tool("me.generateWithReference", arguments)
        generation = data_of(result)
        retried = data_of(await session.call_tool("me.generateWithReference", arguments))
        history = data_of(await session.call_tool("me.listGenerations", {"first": 5}))
    assert generation["status"] == "succeeded" and generation["cost"] == 2 * 3
    assert (
        generation["model"] == "openai/gpt-image-2" and generation["prompt"] == arguments["prompt"]
    )
    assert generation["referenceImageIds"] == references
    # The list is newest first; the references keep the order they were given in.
    assert generation["referenceMediaIds"] == [i["mediaId"] for i in reversed(listed)]
    assert [image.size for image in images_of(result)] == [(1024, 1024)] * 2
    for output in generation["images"]:
        stored = await http.get(output["imageUrl"])
        assert stored.status_code == 200 and decode(stored.content).size == (1024, 1024)
    # One provider call with both references; the retry with the key is the same generation.
    [sent] = provider.requests
    assert len(sent.images) == 2 and not sent.problems
    assert retried["generationId"] == generation["generationId"]
    assert await credits_of(mcp_server, owner) == 100 - 6
    assert [g["generationId"] for g in history["generations"]] == [generation["generationId"]]
    assert history["generations"][0]["referenceImageIds"] == references
    assert history["nextCursor"] is None
    # The same record GraphQL reads.
    recorded = await pool.mutate(
        "query($id: ID!) { generation(id: $id) { ... on Generation { cost referenceIds } } }",
        {"id": generation["generationId"]},
    )
    assert recorded["generation"] == {"cost": 6, "referenceIds": references}


async def test_credit_and_provider_errors_are_tool_results(
    mcp_server: LiveServer, provider: ProviderServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    reference = await pool.add(3)
    arguments = {"prompt": "a portrait", "referenceImageIds": [reference], "quality": "high"}
    async with mcp_session(mcp_server, owner) as session:
        poor = error_of(await session.call_tool("me.generateWithReference", arguments))
        assert poor["code"] == "INSUFFICIENT_CREDITS"
        assert (poor["required"], poor["available"]) == (25, 0)
        assert provider.requests == []
        grant(mcp_server, owner, 30)
        provider.mode = Mode.ERROR_500
        failed = error_of(await session.call_tool("me.generateWithReference", arguments))
        assert failed["code"] == "PROVIDER_FAILED" and failed["generationId"]
        assert OPENAI_KEY not in repr(failed)
        on_gemini = {**arguments, "model": "google/gemini-2.5-flash-image"}
        provider.mode = Mode.OK
        gemini = data_of(await session.call_tool("me.generateWithReference", on_gemini))
    assert gemini["model"] == "google/gemini-2.5-flash-image" and gemini["cost"] == 5
    assert await credits_of(mcp_server, owner) == 30 - 5
