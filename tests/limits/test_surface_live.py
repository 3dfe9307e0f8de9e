"""The locked query surface on live servers, driven by real clients.

- urql's persisted exchange (`@urql/exchange-persisted`, hashed queries over GET) against
  two instances sharing one Redis: registered once on one, known by hash on the other.
- The web app's own documents, sent by urql as the web app sends them, under
  `MEIMAGES_TRUSTED_DOCUMENTS=require`; and the rule over WebSocket (graphql-transport-ws).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
import websockets
from graphql import parse

from api.trusted_documents import TrustedDocuments
from testbed.server import LiveServer, deployment_secrets, start_server
from tests.limits.conftest import REDIS_URL
from tests.support.live import live_servers
from tests.support.node import ROOT, ensure_node_modules

NOT_TRUSTED = "QUERY_NOT_IN_PERSISTED_QUERY_LIST"
WEB_DOCUMENTS = ROOT / "web" / "src" / "generated" / "graphql.ts"


@pytest.fixture
def shared_redis_instances(
    tmp_path: Path, redis_prefix: str, redis_keys: redis.asyncio.Redis
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two instances (each on its own SQLite) sharing secrets and one Redis."""
    settings = {
        **deployment_secrets(),
        "MEIMAGES_REDIS_URL": REDIS_URL,
        "MEIMAGES_REDIS_KEY_PREFIX": redis_prefix,
    }
    with live_servers(tmp_path, settings) as (a, b):
        yield a, b


@pytest.fixture(scope="module")
def requiring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A development server (GraphiQL on) that runs trusted documents only."""
    server = start_server(
        tmp_path_factory.mktemp("require"), {"MEIMAGES_TRUSTED_DOCUMENTS": "require"}
    )
    yield server
    server.stop()


async def _node(*args: str) -> dict[str, Any]:
    await asyncio.to_thread(ensure_node_modules)
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(ROOT / "tests" / "limits" / "clients.mjs"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout.decode())
    return result


def _hash_only(request: dict[str, Any]) -> bool:
    return request["method"] == "GET" and "query=" not in request["url"]


async def test_urql_persisted_queries_register_once_and_are_known_on_every_instance(
    shared_redis_instances: tuple[LiveServer, LiveServer],
    redis_prefix: str,
    redis_keys: redis.asyncio.Redis,
) -> None:
    a, b = shared_redis_instances
    expected = {"profile": {"ownerId": "apq-user", "aiUsesReferenceImages": True}}

    on_a = (await _node("apq", a.graphql_url, a.token("apq-user"), "2"))["results"]
    first, second = on_a
    assert first["data"] == expected and first["error"] is None
    # Hash alone (GET) → PersistedQueryNotFound → the client sends the text with the hash.
    probe, register = first["requests"]
    assert _hash_only(probe) and probe["status"] == 200
    assert json.loads(probe["response"])["errors"][0]["extensions"]["code"] == (
        "PERSISTED_QUERY_NOT_FOUND"
    )
    assert "OwnerSettings" in (register["body"] or register["url"])
    # The second run is one short GET by hash.
    assert second["data"] == expected
    (by_hash,) = second["requests"]
    assert _hash_only(by_hash) and by_hash["status"] == 200

    # Another instance knows the hash from Redis: its very first request is answered.
    (on_b,) = (await _node("apq", b.graphql_url, b.token("apq-user"), "1"))["results"]
    assert on_b["data"] == expected
    (only,) = on_b["requests"]
    assert _hash_only(only) and only["status"] == 200
    assert [k async for k in redis_keys.scan_iter(match=f"{redis_prefix}:apq:*")]


async def test_the_web_apps_documents_run_under_require(requiring: LiveServer) -> None:
    # The documents come from the committed web/src/generated/graphql.ts and go out through
    # the repo root's @urql/core (clients.mjs): nothing here needs web/'s own packages.
    owner = "web-app-user"
    sent = (await _node("web", requiring.graphql_url, requiring.token(owner), str(WEB_DOCUMENTS)))[
        "documents"
    ]
    names = {d["name"] for d in sent}
    assert {"Pool", "GenerationSetup", "EventCursor", "MeImageEvents", "UploadMeImage"} <= names
    trusted = TrustedDocuments.load("require", None, graphiql_exempt=False)
    for document in sent:
        # The exact text urql sends (over HTTP and, for the event stream, over graphql-ws).
        assert trusted.trusts(parse(document["text"]), None), document["name"]
        for response in document.get("responses", []):
            codes = [
                e.get("extensions", {}).get("code") for e in response["body"].get("errors", [])
            ]
            assert NOT_TRUSTED not in codes, (document["name"], response)
    pool = next(d for d in sent if d["name"] == "Pool")["responses"]
    assert pool[0]["status"] == 200 and pool[0]["body"]["data"]["profile"]["ownerId"] == owner


async def _over_websocket(
    server: LiveServer, query: str, params: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """One operation over graphql-transport-ws; the messages until it completes or fails."""
    url = server.graphql_url.replace("http://", "ws://")
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"Authorization": f"Bearer {server.token('ws-user')}", **(params or {})}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        messages: list[dict[str, Any]] = []
        for _ in range(10):  # a query answers with next + complete, or one error
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            messages.append(message)
            if message["type"] in ("complete", "error"):
                return messages
        raise AssertionError(f"no end after 10 messages: {messages}")


async def test_require_holds_over_websocket(requiring: LiveServer) -> None:
    trusted = await _over_websocket(requiring, "query EventCursor { meImageEventCursor }")
    assert [m["type"] for m in trusted] == ["next", "complete"], trusted
    assert "meImageEventCursor" in trusted[0]["payload"]["data"]

    refused = await _over_websocket(
        requiring, "query Other { meImageEventCursor profile { ownerId } }"
    )
    assert refused[-1]["type"] == "error", refused
    assert refused[-1]["payload"][0]["extensions"]["code"] == NOT_TRUSTED

    # GraphiQL's connection parameter opens it on a development server.
    graphiql = await _over_websocket(
        requiring, "query Other { profile { ownerId } }", {"X-GraphiQL": "1"}
    )
    assert graphiql[0]["payload"]["data"] == {"profile": {"ownerId": "ws-user"}}
