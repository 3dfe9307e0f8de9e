"""Consent stays human: no tool can change it, and no tool can see or use an image the
person has not opted in. Every refused id answers exactly like an unknown one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from mcp import ClientSession, types
from mcp.shared.exceptions import McpError
from pydantic import AnyUrl

from resolvers.generation.history import cursor_of
from testbed.server import LiveServer
from tests.mcp.agent import Pool, data_of, error_of, grant, mcp_session, new_owner
from tests.support.provider_server import ProviderServer

# (owner's pool, another owner's pool) -> an id the owner's agent must not use
Refused = Callable[[Pool, Pool], Awaitable[str]]


async def not_opted_in(pool: Pool, other: Pool) -> str:
    return await pool.add(11, opt_in=False)


async def opted_out_again(pool: Pool, other: Pool) -> str:
    image = await pool.add(12)
    await pool.opt_in(image, False)
    return image


async def deleted(pool: Pool, other: Pool) -> str:
    image = await pool.add(13)
    await pool.delete(image)
    return image


async def other_space(pool: Pool, other: Pool) -> str:
    return await Pool(pool.gql, pool.owner, "club").add(14)


async def other_owner(pool: Pool, other: Pool) -> str:
    return await other.add(15)  # opted in by its owner: consent does not travel


async def unknown(pool: Pool, other: Pool) -> str:
    return str(uuid.uuid4())


REFUSED: dict[str, Refused] = {
    "not-opted-in": not_opted_in,
    "opted-out-again": opted_out_again,
    "deleted": deleted,
    "other-space": other_space,
    "other-owner": other_owner,
    "unknown": unknown,
}


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def answers(session: ClientSession, image_id: str) -> dict[str, Any]:
    """What every door of the MCP server says about one image id, with the id blanked."""
    generate = error_of(
        await session.call_tool(
            "me.generateWithReference", {"prompt": "me, painted", "referenceImageIds": [image_id]}
        )
    )
    assert generate.pop("referenceIds") == [image_id]
    try:
        await session.read_resource(AnyUrl(f"meimages://me-images/{image_id}"))
        read: object = "readable"
    except McpError as exc:
        read = (exc.error.code, exc.error.message)
    listed = data_of(await session.call_tool("me.listReferenceImages", {}))["images"]
    resources = (await session.list_resources()).resources
    after = error_of(await session.call_tool("me.listGenerations", {"after": image_id}))
    return {
        "generate": generate,
        "read": read,
        "listed": image_id in {i["id"] for i in listed},
        "resource": image_id in {str(r.uri).rsplit("/", 1)[-1] for r in resources},
        "after": after,
    }


async def test_every_refused_id_answers_like_an_unknown_one(
    mcp_server: LiveServer, provider: ProviderServer, http: httpx.AsyncClient
) -> None:
    owner, other = new_owner(), new_owner()
    pool, others = Pool(mcp_server.graphql(http), owner), Pool(mcp_server.graphql(http), other)
    usable = await pool.add(10)
    grant(mcp_server, owner, 100)
    refused = {name: await make(pool, others) for name, make in REFUSED.items()}
    async with mcp_session(mcp_server, owner) as session:
        seen = {name: await answers(session, image_id) for name, image_id in refused.items()}
        # Mixed with a usable reference, the refused one still stops the whole call.
        for image_id in refused.values():
            mixed = error_of(
                await session.call_tool(
                    "me.generateWithReference",
                    {"prompt": "me, painted", "referenceImageIds": [usable, image_id]},
                )
            )
            assert mixed["code"] == "REFERENCE_NOT_USABLE"
        profile = data_of(await session.call_tool("me.getProfile", {}))
    expected = seen.pop("unknown")
    assert expected["generate"]["code"] == "REFERENCE_NOT_USABLE"
    assert expected["read"] == (-32002, "resource not found")
    assert expected["listed"] is expected["resource"] is False
    assert expected["after"]["code"] == "INVALID_INPUT"
    for name, answer in seen.items():
        assert answer == expected, name
    assert provider.requests == []  # nothing was ever sent
    assert profile["credits"] == 100


async def test_a_foreign_generation_is_an_unknown_cursor(
    mcp_server: LiveServer, provider: ProviderServer, http: httpx.AsyncClient
) -> None:
    other = new_owner()
    others = Pool(mcp_server.graphql(http), other)
    grant(mcp_server, other, 10)
    async with mcp_session(mcp_server, other) as session:
        reference = await others.add(16)
        theirs = data_of(
            await session.call_tool(
                "me.generateWithReference",
                {"prompt": "x", "referenceImageIds": [reference], "quality": "low"},
            )
        )["generationId"]
    async with mcp_session(mcp_server, new_owner()) as session:
        foreign = error_of(
            await session.call_tool("me.listGenerations", {"after": cursor_of(theirs)})
        )
        missing = error_of(
            await session.call_tool("me.listGenerations", {"after": cursor_of(str(uuid.uuid4()))})
        )
        mine = data_of(await session.call_tool("me.listGenerations", {}))
    assert foreign == missing and mine == {"generations": [], "nextCursor": None}


# What an agent would need to change consent; none of it exists.
WRITES = [
    ("me.setAiReferenceEnabled", {"id": "{id}", "enabled": True}),
    ("me.setReferenceImageUsage", {"id": "{id}", "aiReference": True}),
    ("me.uploadMeImage", {"data": "aGVsbG8=", "kind": "face"}),
    ("me.createMeImage", {"mediaId": "{media}", "kind": "face"}),
    ("me.deleteMeImage", {"id": "{id}"}),
    ("me.setPrimary", {"id": "{id}", "slot": "face-ref"}),
    ("me.setAiUsesReferenceImages", {"enabled": True}),
    ("me.updateMeImage", {"id": "{id}", "usage": {"aiReference": True}}),
]


async def test_no_tool_changes_consent(
    mcp_server: LiveServer, provider: ProviderServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    await pool.add(20)
    hidden = await pool.add(21, opt_in=False)
    await pool.kill_switch(False)
    await pool.kill_switch(True)
    before = await pool.state()
    media = next(i["mediaId"] for i in before["meImages"] if i["id"] == hidden)
    async with mcp_session(mcp_server, owner) as session:
        names = {t.name for t in (await session.list_tools()).tools}
        for name, template in WRITES:
            assert name not in names
            arguments = {
                k: v.format(id=hidden, media=media) if isinstance(v, str) else v
                for k, v in template.items()
            }
            assert error_of(await session.call_tool(name, arguments))["code"] == "NOT_FOUND"
        # Consent-shaped arguments smuggled into the real tools are refused, not ignored.
        for tool in sorted(names):
            smuggled = {"aiReference": True, "id": hidden, "enabled": True}
            assert error_of(await session.call_tool(tool, smuggled))["code"] == "INVALID_INPUT"
        # Every tool called with the hidden image's ids wherever an id fits.
        await session.call_tool("me.listReferenceImages", {"includeImages": True})
        await session.call_tool(
            "me.generateWithReference", {"prompt": "x", "referenceImageIds": [hidden, media]}
        )
        await session.call_tool("me.listGenerations", {"after": hidden})
        await session.call_tool("me.getProfile", {})
    assert await pool.state() == before
    assert provider.requests == []


async def test_resource_list_changes_are_notified(
    mcp_server: LiveServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    image = await pool.add(30, opt_in=False)
    changed = asyncio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ServerNotification) and isinstance(
            message.root, types.ResourceListChangedNotification
        ):
            changed.set()

    async with mcp_session(mcp_server, owner, message_handler=on_message) as session:
        assert (await session.list_resources()).resources == []
        await pool.opt_in(image, True)
        await asyncio.wait_for(changed.wait(), timeout=60)
        uris = [str(r.uri) for r in (await session.list_resources()).resources]
    assert uris == [f"meimages://me-images/{image}"]


async def test_kill_switch_is_notified_as_a_list_change(
    mcp_server: LiveServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    image = await pool.add(31)
    changes: asyncio.Queue[None] = asyncio.Queue()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ServerNotification) and isinstance(
            message.root, types.ResourceListChangedNotification
        ):
            changes.put_nowait(None)

    async with mcp_session(mcp_server, owner, message_handler=on_message) as session:
        assert len((await session.list_resources()).resources) == 1
        await pool.kill_switch(False)
        await asyncio.wait_for(changes.get(), timeout=60)
        assert (await session.list_resources()).resources == []
        await pool.kill_switch(True)
        await asyncio.wait_for(changes.get(), timeout=60)
        uris = [str(r.uri) for r in (await session.list_resources()).resources]
    assert uris == [f"meimages://me-images/{image}"]
