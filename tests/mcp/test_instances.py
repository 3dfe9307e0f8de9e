"""Two instances on one PostgreSQL with MEIMAGES_MCP_STATELESS: any instance answers any MCP
request, so a load balancer needs no session affinity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testbed.server import LiveServer, deployment_secrets
from tests.mcp.agent import Pool, data_of, mcp_session, message_of, new_owner
from tests.support.databases import postgres_database_sync
from tests.support.live import live_servers


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveServer]]:
    with postgres_database_sync("meimages_mcp_pair") as database:
        shared: Path = tmp_path_factory.mktemp("mcp-pair")
        settings = {
            **deployment_secrets(),
            "MEIMAGES_DATABASE_URL": database,
            "MEIMAGES_BLOB_DIR": str(shared / "media"),
            "MEIMAGES_MCP_STATELESS": "true",
        }
        with live_servers(shared, settings) as servers:
            yield servers


async def test_any_instance_answers_any_request(instances: list[LiveServer]) -> None:
    a, b = instances
    owner = new_owner()
    async with httpx.AsyncClient(timeout=60) as http:
        image = await Pool(a.graphql(http), owner).add(60)
        async with mcp_session(b, owner) as session:
            listed = data_of(await session.call_tool("me.listReferenceImages", {}))["images"]
            resources = (await session.list_resources()).resources
        assert [i["id"] for i in listed] == [image]
        assert [str(r.uri) for r in resources] == [f"meimages://me-images/{image}"]
        # Initialised on one instance, called on the other: no session to find.
        headers = {**a.headers(owner), "Accept": "application/json, text/event-stream"}
        hello = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "balanced", "version": "0"},
            },
        }
        opened = await http.post(f"{a.url}/mcp", json=hello, headers=headers)
        assert opened.status_code == 200 and "mcp-session-id" not in opened.headers
        capabilities = message_of(opened)["result"]["capabilities"]
        assert capabilities["resources"]["listChanged"] is False  # no session to tell
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "me.getProfile", "arguments": {}},
        }
        answered = await http.post(f"{b.url}/mcp", json=call, headers=headers)
        profile = message_of(answered)["result"]["structuredContent"]
        assert profile["ownerId"] == owner and profile["referenceImageCounts"]["face"] == 1
