"""The MCP door over real Streamable HTTP, with the official SDK's client, on both databases:
what agents see, what they may use, and that consent stays with the person."""

from __future__ import annotations

import httpx
import pytest

from resolvers.generation.requests import MAX_PROMPT
from testbed.images import decode
from testbed.server import LiveServer
from tests.mcp.agent import Pool, data_of, error_of, images_of, mcp_session, new_owner

KINDS = ("face", "fullbody", "halfbody", "hands", "reference")
TOOL_NAMES = {
    "me.listReferenceImages",
    "me.generateWithReference",
    "me.getProfile",
    "me.listGenerations",
}


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def test_tools_list_as_an_agent_sees_it(mcp_server: LiveServer) -> None:
    async with mcp_session(mcp_server, new_owner()) as session:
        listed = {t.name: t for t in (await session.list_tools()).tools}
    assert set(listed) == TOOL_NAMES
    for tool in listed.values():
        assert tool.description and tool.outputSchema and tool.annotations
        assert tool.inputSchema["additionalProperties"] is False
        assert tool.annotations.destructiveHint is False
    reads = {"me.listReferenceImages", "me.getProfile", "me.listGenerations"}
    assert {n for n, t in listed.items() if t.annotations and t.annotations.readOnlyHint} == reads
    generate = listed["me.generateWithReference"]
    assert generate.annotations is not None and generate.annotations.openWorldHint is True
    assert generate.inputSchema["required"] == ["prompt", "referenceImageIds"]
    assert generate.inputSchema["properties"]["n"]["maximum"] == 4


async def test_lists_only_opted_in_live_images_with_working_urls(
    mcp_server: LiveServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    face = await pool.add(1, kind="FACE")
    hands = await pool.add(2, kind="HANDS")
    await pool.add(3, opt_in=False)
    async with mcp_session(mcp_server, owner) as session:
        listed = data_of(await session.call_tool("me.listReferenceImages", {}))["images"]
        assert [i["id"] for i in listed] == [hands, face]  # newest first
        only_hands = await session.call_tool("me.listReferenceImages", {"kind": "hands"})
        assert [i["id"] for i in data_of(only_hands)["images"]] == [hands]
        assert images_of(only_hands) == []  # image content only when asked for
        with_images = await session.call_tool("me.listReferenceImages", {"includeImages": True})
        thumbnails = images_of(with_images)
    assert len(thumbnails) == 2 and all(max(t.size) <= 512 for t in thumbnails)
    for image in listed:
        assert image["kind"] in ("face", "hands") and image["width"] == 320
        original = await http.get(image["publicUrl"])  # signed, absolute, no token needed
        assert original.status_code == 200
        assert decode(original.content).size == (image["width"], image["height"])
        assert (await http.get(image["thumbnailUrl"])).status_code == 200


async def test_kill_switch_off_lists_nothing(
    mcp_server: LiveServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    await pool.add(1)
    await pool.kill_switch(False)
    async with mcp_session(mcp_server, owner) as session:
        assert data_of(await session.call_tool("me.listReferenceImages", {}))["images"] == []
        profile = data_of(await session.call_tool("me.getProfile", {}))
        assert (await session.list_resources()).resources == []
    assert profile["aiUsesReferenceImages"] is False
    assert profile["imageCounts"]["face"] == 1
    assert profile["referenceImageCounts"]["face"] == 0


async def test_profile_counts_and_credits(mcp_server: LiveServer, http: httpx.AsyncClient) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    await pool.add(1, kind="FACE")
    await pool.add(2, kind="FULLBODY", opt_in=False)
    done = mcp_server.cli("credits", "grant", "--user", owner, "42")
    assert done.returncode == 0, done.stderr
    async with mcp_session(mcp_server, owner, "brand") as session:
        elsewhere = data_of(await session.call_tool("me.getProfile", {}))
    async with mcp_session(mcp_server, owner) as session:
        profile = data_of(await session.call_tool("me.getProfile", {}))
    assert profile["ownerId"] == owner and profile["spaceId"] == "personal"
    assert profile["credits"] == 42 and profile["aiUsesReferenceImages"] is True
    assert profile["imageCounts"] == {**dict.fromkeys(KINDS, 0), "face": 1, "fullbody": 1}
    assert profile["referenceImageCounts"] == {**dict.fromkeys(KINDS, 0), "face": 1}
    assert elsewhere["spaceId"] == "brand" and sum(elsewhere["imageCounts"].values()) == 0


async def test_resources_are_the_opted_in_images(
    mcp_server: LiveServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    pool = Pool(mcp_server.graphql(http), owner)
    usable = await pool.add(1)
    hidden = await pool.add(2, opt_in=False)
    async with mcp_session(mcp_server, owner) as session:
        resources = (await session.list_resources()).resources
        assert [str(r.uri) for r in resources] == [f"meimages://me-images/{usable}"]
        read = await session.read_resource(resources[0].uri)
        templates = (await session.list_resource_templates()).resourceTemplates
    [content] = read.contents
    assert content.mimeType == "image/webp"
    assert hidden not in {str(r.uri) for r in resources}
    assert templates[0].uriTemplate == "meimages://me-images/{id}"


async def test_bad_arguments_are_tool_errors_with_stable_codes(mcp_server: LiveServer) -> None:
    async with mcp_session(mcp_server, new_owner()) as session:
        cases = [
            ("me.listReferenceImages", {"kind": "selfie"}, "kind"),
            ("me.listReferenceImages", {"aiReference": True}, None),
            ("me.generateWithReference", {"prompt": "x"}, None),
            ("me.generateWithReference", {"prompt": "", "referenceImageIds": ["a"]}, "prompt"),
            (
                "me.generateWithReference",
                {"prompt": "x" * (MAX_PROMPT + 1), "referenceImageIds": ["a"]},
                "prompt",
            ),
            (
                "me.generateWithReference",
                {"prompt": "x", "referenceImageIds": []},
                "referenceImageIds",
            ),
            (
                "me.generateWithReference",
                {"prompt": "x", "referenceImageIds": ["a"] * 2},
                "referenceImageIds",
            ),
            ("me.generateWithReference", {"prompt": "x", "referenceImageIds": ["a"], "n": 5}, "n"),
            (
                "me.generateWithReference",
                {"prompt": "x", "referenceImageIds": ["a"], "model": "dall-e"},
                "model",
            ),
            (
                "me.generateWithReference",
                {"prompt": "x", "referenceImageIds": ["a"], "idempotencyKey": "a b"},
                "idempotencyKey",
            ),
            ("me.generateWithReference", {"prompt": "   ", "referenceImageIds": ["a"]}, "prompt"),
            ("me.listGenerations", {"first": 0}, "first"),
            ("me.listGenerations", {"first": "ten"}, "first"),
            ("me.listGenerations", {"after": "no-such-generation"}, "after"),
        ]
        for tool, arguments, field in cases:
            error = error_of(await session.call_tool(tool, arguments))
            assert error["code"] == "INVALID_INPUT", (tool, arguments, error)
            if field is not None:
                assert error["field"] == field, (tool, arguments, error)
        # The session is still healthy after all of them.
        assert data_of(await session.call_tool("me.getProfile", {}))["credits"] == 0


async def test_tokens_are_required_and_sessions_belong_to_their_owner(
    mcp_server: LiveServer, http: httpx.AsyncClient
) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "probe", "version": "0"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    url = f"{mcp_server.url}/mcp"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        refused = await http.post(url, json=initialize, headers={**accept, **headers})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
    alice = new_owner()
    opened = await http.post(url, json=initialize, headers={**accept, **mcp_server.headers(alice)})
    assert opened.status_code == 200
    session_id = opened.headers["mcp-session-id"]
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    for user, space in ((new_owner(), None), (alice, "brand")):
        other = {**accept, **mcp_server.headers(user, space), "mcp-session-id": session_id}
        assert (await http.post(url, json=ping, headers=other)).status_code == 404
    mine = {**accept, **mcp_server.headers(alice)}
    in_session = {**mine, "mcp-session-id": session_id}
    malformed: list[tuple[str, dict[str, str], bytes]] = [
        ("POST", mine, b"{not json"),
        ("POST", mine, b"[]"),
        ("POST", mine, b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'),  # no session
        ("POST", in_session, b'{"jsonrpc": "1.0", "id": 1, "method": "tools/list"}'),
        ("POST", in_session, b'{"jsonrpc": "2.0", "id": {}, "method": 7}'),
        (
            "POST",
            {**in_session, "Accept": "text/html"},
            b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
        ),
        (
            "POST",
            {**mine, "mcp-session-id": "f" * 32},
            b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
        ),
        ("GET", mine, b""),
        ("DELETE", mine, b""),
        ("DELETE", {**mine, "mcp-session-id": "../../x"}, b""),
    ]
    for method, headers, body in malformed:
        sent = {**headers, "Content-Type": "application/json"}
        answer = await http.request(method, url, content=body, headers=sent)
        assert 400 <= answer.status_code < 500, (method, headers, body, answer.text)
    # The session survived all of it.
    still = await http.post(url, json=ping, headers=in_session)
    assert still.status_code == 200


async def test_media_urls_are_the_same_absolute_urls_over_graphql_and_mcp(
    mcp_server: LiveServer,
) -> None:
    owner = new_owner()
    async with httpx.AsyncClient(timeout=60) as http:
        gql = mcp_server.graphql(http)
        image_id = await Pool(gql, owner).add(70)
        listed = await gql.gql("{ referenceImages { id publicUrl thumbnailUrl } }", user=owner)
        [over_graphql] = listed["referenceImages"]
        async with mcp_session(mcp_server, owner) as session:
            result = await session.call_tool("me.listReferenceImages", {})
        [over_mcp] = data_of(result)["images"]
        assert over_mcp["id"] == over_graphql["id"] == image_id
        for field in ("publicUrl", "thumbnailUrl"):
            assert over_mcp[field] == over_graphql[field]
            assert over_mcp[field].startswith(f"{mcp_server.url}/media/")
            fetched = await http.get(over_graphql[field])
            assert fetched.status_code == 200
            assert fetched.headers["content-type"].startswith("image/")
