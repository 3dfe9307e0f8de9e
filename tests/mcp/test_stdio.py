"""`meimages mcp` over stdio with the official SDK's client: the desktop-agent setup, on the
data and database of a running server, by --user and by --token."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.session import MessageHandlerFnT
from mcp.client.stdio import stdio_client

from testbed.server import MEIMAGES, ROOT, LiveServer, clean_environment
from tests.mcp.agent import Pool, data_of, error_of, grant, images_of, new_owner
from tests.support.provider_server import ProviderServer

T = TypeVar("T")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


def environment(server: LiveServer) -> dict[str, str]:
    return clean_environment({**server.settings, "MEIMAGES_DATA_DIR": str(server.data_dir)})


@asynccontextmanager
async def stdio_session(
    server: LiveServer, *args: str, message_handler: MessageHandlerFnT | None = None
) -> AsyncIterator[ClientSession]:
    parameters = StdioServerParameters(
        command=str(MEIMAGES), args=["mcp", *args], env=environment(server), cwd=ROOT
    )
    with tempfile.TemporaryFile("w+") as errors:
        async with (
            stdio_client(parameters, errlog=errors) as (read, write),
            ClientSession(read, write, message_handler=message_handler) as session,
        ):
            await session.initialize()
            yield session


@asynccontextmanager
async def meanwhile(work: Coroutine[Any, Any, T]) -> AsyncIterator[asyncio.Task[T]]:
    """`work` running in a task of its own while the block runs (cancelled if it is still
    running when the block ends)."""
    task = asyncio.create_task(work)
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_list_generate_and_refuse_over_stdio(
    mcp_server: LiveServer, provider: ProviderServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)

    async def prepare() -> tuple[str, str]:
        usable = await pool.add(40)
        hidden = await pool.add(41, opt_in=False)
        await asyncio.to_thread(grant, mcp_server, owner, 20)  # `meimages credits grant`
        return usable, hidden

    # The pool and the credits are made while `meimages mcp` starts, and are there before
    # the session's first call.
    async with (
        meanwhile(prepare()) as prepared,
        stdio_session(mcp_server, "--user", owner) as session,
    ):
        usable, hidden = await prepared
        names = {t.name for t in (await session.list_tools()).tools}
        listed = await session.call_tool("me.listReferenceImages", {"includeImages": True})
        refused = error_of(
            await session.call_tool(
                "me.generateWithReference", {"prompt": "x", "referenceImageIds": [hidden]}
            )
        )
        result = await session.call_tool(
            "me.generateWithReference",
            {"prompt": "me on a bike", "referenceImageIds": [usable], "quality": "medium"},
        )
        profile = data_of(await session.call_tool("me.getProfile", {}))
    assert "me.generateWithReference" in names
    assert [i["id"] for i in data_of(listed)["images"]] == [usable]
    assert len(images_of(listed)) == 1
    assert refused["code"] == "REFERENCE_NOT_USABLE"
    generation = data_of(result)
    assert generation["status"] == "succeeded" and generation["cost"] == 10
    assert [i.size for i in images_of(result)] == [(1024, 1024)]
    assert len(provider.requests) == 1
    assert profile["credits"] == 10
    # The server process sees the same credits: one ledger.
    assert (await pool.state())["profile"]["credits"] == 10


async def test_token_mode_takes_owner_and_space_from_the_token(
    mcp_server: LiveServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    club = Pool(mcp_server.graphql(http), owner, "club")
    image = await club.add(42)
    token = mcp_server.token(owner, "club")
    async with stdio_session(mcp_server, "--token", token) as session:
        profile = data_of(await session.call_tool("me.getProfile", {}))
        listed = data_of(await session.call_tool("me.listReferenceImages", {}))
    assert (profile["ownerId"], profile["spaceId"]) == (owner, "club")
    assert [i["id"] for i in listed["images"]] == [image]


def test_refuses_to_start_without_a_usable_caller(mcp_server: LiveServer) -> None:
    callers: list[list[str]] = [[], ["--user", "a", "--token", "t"], ["--token", "not-a-token"]]
    # All three at once: each is a process of its own, whose start is most of its time.
    started = [
        subprocess.Popen(
            [str(MEIMAGES), "mcp", *args],
            env=environment(mcp_server),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for args in callers
    ]
    try:
        outputs = [process.communicate(timeout=120) for process in started]
    finally:
        for process in started:  # those still running after a timeout
            process.kill()
            process.wait()
    for args, process, (stdout, stderr) in zip(callers, started, outputs, strict=True):
        assert process.returncode == 2, (args, stderr)
        assert stdout == ""  # stdout is the protocol's: nothing else goes there
        assert "error:" in stderr and "Traceback" not in stderr


async def test_changes_made_through_the_server_reach_a_stdio_session(
    mcp_server: LiveServer, http: httpx.AsyncClient
) -> None:
    if not mcp_server.database_url.startswith("postgresql"):
        pytest.skip("two processes on SQLite share no notification channel")
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    image = await pool.add(43, opt_in=False)
    changed = asyncio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ServerNotification) and isinstance(
            message.root, types.ResourceListChangedNotification
        ):
            changed.set()

    async with stdio_session(mcp_server, "--user", owner, message_handler=on_message) as session:
        assert (await session.list_resources()).resources == []
        await pool.opt_in(image, True)  # through the server process, not this one
        await asyncio.wait_for(changed.wait(), timeout=60)
        uris = [str(r.uri) for r in (await session.list_resources()).resources]
    assert uris == [f"meimages://me-images/{image}"]
