"""Masks and chaining through the MCP door: a mask as base64 PNG, and outputs fed back by
the referenceImageId me.listGenerations gives once their owner opted them in - the same
resolver functions as GraphQL, so the same refusals."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image

from testbed.server import LiveServer
from tests.mcp.agent import Pool, data_of, error_of, grant, mcp_session, new_owner
from tests.support.provider_server import ProviderServer


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


def _mask(size: tuple[int, int], *, alpha: bool = True) -> str:
    """Left half transparent (may change), right half opaque; base64 PNG."""
    img = Image.new("RGBA", size, (255, 255, 255, 255))
    img.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    (img if alpha else img.convert("RGB")).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


async def _credits(server: LiveServer, owner: str) -> int:
    async with mcp_session(server, owner) as session:
        return int(data_of(await session.call_tool("me.getProfile", {}))["credits"])


async def test_an_agent_sends_a_mask(
    mcp_server: LiveServer, provider: ProviderServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    face = await pool.add(41)  # 320 x 240
    grant(mcp_server, owner, 100)
    async with mcp_session(mcp_server, owner) as session:
        result = await session.call_tool(
            "me.generateWithReference",
            {"prompt": "me in a red coat", "referenceImageIds": [face], "mask": _mask((160, 120))},
        )
    generation = data_of(result)
    assert generation["status"] == "succeeded" and generation["masked"] is True
    [sent] = provider.requests
    assert sent.problems == [] and sent.mask is not None
    mask = Image.open(io.BytesIO(sent.mask))
    assert mask.mode == "RGBA" and mask.size == (320, 240)
    assert mask.getchannel("A").crop((0, 0, 158, 240)).getextrema() == (0, 0)
    assert mask.getchannel("A").crop((162, 0, 320, 240)).getextrema() == (255, 255)


@pytest.mark.parametrize(
    ("arguments", "code", "field"),
    [
        ({"mask": "not base64 at all!"}, "INVALID_INPUT", "mask"),
        ({"mask": _mask((160, 120), alpha=False)}, "INVALID_INPUT", "mask"),
        ({"mask": _mask((100, 100))}, "INVALID_INPUT", "mask"),
        (
            {"mask": _mask((160, 120)), "model": "google/gemini-2.5-flash-image"},
            "MASK_NOT_SUPPORTED",
            None,
        ),
    ],
    ids=["base64", "no-alpha", "aspect", "gemini"],
)
async def test_mask_refusals_send_and_charge_nothing(
    mcp_server: LiveServer,
    provider: ProviderServer,
    http: httpx.AsyncClient,
    arguments: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    face = await pool.add(42)
    grant(mcp_server, owner, 100)
    before = await _credits(mcp_server, owner)
    async with mcp_session(mcp_server, owner) as session:
        result = await session.call_tool(
            "me.generateWithReference",
            {"prompt": "me in a red coat", "referenceImageIds": [face], **arguments},
        )
    error = error_of(result)
    assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error
    else:
        assert error["provider"] == "gemini", error
    assert provider.requests == []
    assert await _credits(mcp_server, owner) == before


TAKE = (
    "mutation($m: ID!) { createMeImage(input: {mediaId: $m, kind: REFERENCE}) "
    "{ __typename ... on MeImage { id } } }"
)


async def test_an_agent_chains_an_output_its_owner_opted_in(
    mcp_server: LiveServer, provider: ProviderServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    face = await pool.add(43)
    grant(mcp_server, owner, 100)
    async with mcp_session(mcp_server, owner) as session:
        first = data_of(
            await session.call_tool(
                "me.generateWithReference",
                {"prompt": "me", "referenceImageIds": [face], "quality": "low"},
            )
        )
        [output] = first["images"]
        assert output["referenceImageId"] is None
        # The person takes the output into the pool (AI use off, like an upload).
        taken = (await pool.mutate(TAKE, {"m": output["mediaId"]}))["createMeImage"]
        assert taken["__typename"] == "MeImage", taken
        listed = data_of(await session.call_tool("me.listGenerations", {"first": 5}))
        assert listed["generations"][0]["images"][0]["referenceImageId"] is None
        provider.reset()
        before = await _credits(mcp_server, owner)

        unknown_id = str(uuid.uuid4())
        unknown = error_of(
            await session.call_tool(
                "me.generateWithReference", {"prompt": "again", "referenceImageIds": [unknown_id]}
            )
        )
        refused = error_of(
            await session.call_tool(
                "me.generateWithReference", {"prompt": "again", "referenceImageIds": [taken["id"]]}
            )
        )
        assert unknown["code"] == "REFERENCE_NOT_USABLE"
        assert refused["referenceIds"] == [taken["id"]] and unknown["referenceIds"] == [unknown_id]
        assert {k: v for k, v in refused.items() if k != "referenceIds"} == {
            k: v for k, v in unknown.items() if k != "referenceIds"
        }
        assert provider.requests == []
        assert await _credits(mcp_server, owner) == before

        # Once the person opts it in, the agent sees its id and can chain it.
        await pool.opt_in(taken["id"], True)
        listed = data_of(await session.call_tool("me.listGenerations", {"first": 5}))
        chain_id = listed["generations"][0]["images"][0]["referenceImageId"]
        assert chain_id == taken["id"]
        chained = data_of(
            await session.call_tool(
                "me.generateWithReference",
                {"prompt": "sharper", "referenceImageIds": [chain_id], "quality": "low"},
            )
        )
    assert chained["status"] == "succeeded" and chained["referenceImageIds"] == [chain_id]
    [sent] = provider.requests
    assert sent.problems == [] and len(sent.images) == 1
    assert sent.body.count(b'name="image[]"') == 1
    assert Image.open(io.BytesIO(sent.images[0])).size == (1024, 1024)
