"""Relay, a client nobody here wrote: relay-compiler (npm, pinned) compiles a small Relay
project over `schema.graphql` (`@connection` on the history and the pool, a `@refetchable`
MeImage fragment, `@deleteRecord`), and the queries it writes run against a live server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from testbed.images import jpeg
from testbed.server import LiveServer
from tests.support.node import ROOT, ensure_node_modules

PROJECT = Path(__file__).parent / "relay"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project compiled in a folder of its own; its `__generated__` artifacts."""
    node_modules = ensure_node_modules()
    folder = tmp_path_factory.mktemp("relay")
    shutil.copytree(PROJECT / "src", folder / "src")
    config = {
        "src": "./src",
        "schema": str(ROOT / "schema.graphql"),
        "language": "javascript",
        "eagerEsModules": False,  # CommonJS artifacts, which plain node can load
    }
    (folder / "relay.config.json").write_text(json.dumps(config))
    done = subprocess.run(
        [str(node_modules / ".bin" / "relay-compiler")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "src" / "__generated__"


def artifact(folder: Path, name: str) -> dict[str, Any]:
    """A generated artifact as data (a module whose default export is a plain object)."""
    script = "const m = require(process.argv[1]); console.log(JSON.stringify(m.default ?? m))"
    path = str(folder / f"{name}.graphql.js")
    out = subprocess.run(
        ["node", "-e", script, path], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: dict[str, Any] = json.loads(out.stdout)
    return loaded


def test_the_compiler_accepts_connections_and_refetchable_fragments(compiled: Path) -> None:
    card = artifact(compiled, "MeImageCard_image")
    # @refetchable on MeImage goes through Query.node: the Node interface is what Relay needs.
    assert card["metadata"]["refetch"]["fragmentPathInResult"] == ["node"]
    refetch = artifact(compiled, "MeImageCardRefetchQuery")["params"]["text"]
    assert "node(id: $id)" in refetch
    history = artifact(compiled, "History_query")["metadata"]
    assert history["connection"][0]["path"] == ["generationHistory"]
    assert history["connection"][0]["direction"] == "bidirectional"
    pool = artifact(compiled, "Pool_query")["metadata"]
    assert pool["connection"][0]["path"] == ["pool"]


async def run(
    server: LiveServer, http: httpx.AsyncClient, owner: str, text: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """One operation as Relay's network layer would send it; it must answer without errors."""
    response = await http.post(
        server.graphql_url,
        json={"query": text, "variables": variables},
        headers=server.headers(owner),
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def test_the_compiled_operations_run_against_a_live_server(
    compiled: Path, live_server: LiveServer, http: httpx.AsyncClient
) -> None:
    owner = "relay-owner"
    client = live_server.graphql(http)
    made = [
        (await client.upload_image(jpeg(600 + i), user=owner, input={"kind": "FACE"}))["id"]
        for i in range(3)
    ]
    refetch = artifact(compiled, "MeImageCardRefetchQuery")["params"]["text"]
    got = await run(live_server, http, owner, refetch, {"id": made[0]})
    assert got["node"]["id"] == made[0] and got["node"]["__typename"] == "MeImage"
    # Another owner's refetch of the same id finds nothing, without an error.
    assert (await run(live_server, http, "relay-other", refetch, {"id": made[0]}))["node"] is None

    # usePaginationFragment's queries: loadNext sends count/cursor and nulls for the rest.
    pages = artifact(compiled, "PoolPaginationQuery")["params"]["text"]
    first = (await run(live_server, http, owner, pages, {"count": 2, "cursor": None}))["pool"]
    assert [e["node"]["id"] for e in first["edges"]] == [made[2], made[1]]
    after = first["pageInfo"]["endCursor"]
    rest = (await run(live_server, http, owner, pages, {"count": 2, "cursor": after}))["pool"]
    assert [e["node"]["id"] for e in rest["edges"]] == [made[0]]
    assert rest["pageInfo"]["hasNextPage"] is False

    history = artifact(compiled, "HistoryPaginationQuery")["params"]["text"]
    both = {"count": None, "cursor": None, "last": 2, "before": None}
    older = (await run(live_server, http, owner, history, both))["generationHistory"]
    assert older["edges"] == [] and older["pageInfo"]["hasPreviousPage"] is False

    remove = artifact(compiled, "PoolDeleteMutation")["params"]["text"]
    deleted = await run(live_server, http, owner, remove, {"id": made[1]})
    assert deleted["deleteMeImage"] == {"__typename": "DeletedMeImage", "id": made[1]}
