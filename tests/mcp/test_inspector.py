"""A client nobody here wrote: the npm MCP Inspector's command-line mode lists the tools and
calls me.listReferenceImages against the live server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from testbed.server import LiveServer
from tests.mcp.agent import Pool, new_owner
from tests.support.node import ROOT, ensure_node_modules


@pytest.fixture(scope="module")
def inspector() -> Path:
    return ensure_node_modules() / ".bin" / "mcp-inspector"


def inspect(
    inspector: Path, server: LiveServer, token: str, catalog: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    command = [str(inspector), "--cli", f"{server.url}/mcp", "--transport", "http"]
    return subprocess.run(
        [*command, "--header", f"Authorization: Bearer {token}", *args],
        cwd=ROOT,
        # Its catalog of servers stays in this test's folder, not in the user's home.
        env={**_node_environment(), "MCP_CATALOG_PATH": str(catalog)},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _node_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MEIMAGES_")}


def output_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_inspector_lists_tools_and_calls_list_reference_images(
    mcp_server: LiveServer, inspector: Path, tmp_path: Path
) -> None:
    owner = new_owner()
    async with httpx.AsyncClient(timeout=60) as http:
        pool = Pool(mcp_server.graphql(http), owner)
        face = await pool.add(50, kind="FACE")
        await pool.add(51, kind="HANDS")
        await pool.add(52, kind="FACE", opt_in=False)
    token = mcp_server.token(owner)
    catalog = tmp_path / "catalog.json"
    # --strict: schema portability problems of error severity fail the listing.
    listed = inspect(inspector, mcp_server, token, catalog, "--method", "tools/list", "--strict")
    tools = {t["name"]: t for t in output_of(listed)["tools"]}
    assert set(tools) == {
        "me.listReferenceImages",
        "me.generateWithReference",
        "me.getProfile",
        "me.listGenerations",
    }
    assert tools["me.listReferenceImages"]["annotations"]["readOnlyHint"] is True
    called = inspect(
        inspector,
        mcp_server,
        token,
        catalog,
        "--method",
        "tools/call",
        "--tool-name",
        "me.listReferenceImages",
        "--tool-arg",
        "kind=face",
    )
    result = output_of(called)
    assert result["isError"] is False
    assert [i["id"] for i in result["structuredContent"]["images"]] == [face]
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    refused = inspect(inspector, mcp_server, "not-a-token", catalog, "--method", "tools/list")
    assert refused.returncode != 0


# One bad argument per tool: each answer must reach the Inspector as the tool's error, not
# as a violation of the tool's success `outputSchema`.
BAD_ARGUMENTS = {
    "me.listReferenceImages": ["kind=elbow"],
    "me.generateWithReference": ["prompt=a portrait", "referenceImageIds=[]"],
    "me.getProfile": ["colour=blue"],
    "me.listGenerations": ["first=0"],
}


async def test_inspector_reads_each_tool_error_as_an_error(
    mcp_server: LiveServer, inspector: Path, tmp_path: Path
) -> None:
    token = mcp_server.token(new_owner())
    catalog = tmp_path / "catalog.json"
    listed = inspect(inspector, mcp_server, token, catalog, "--method", "tools/list")
    assert {t["name"] for t in output_of(listed)["tools"]} == set(BAD_ARGUMENTS)
    for tool, arguments in BAD_ARGUMENTS.items():
        tool_args = [arg for pair in arguments for arg in ("--tool-arg", pair)]
        called = inspect(
            inspector,
            mcp_server,
            token,
            catalog,
            "--method",
            "tools/call",
            "--tool-name",
            tool,
            *tool_args,
        )
        # The Inspector validates structured content against the tool's outputSchema,
        # error or not: a violation would be its own failure. A tool error is exit 5.
        assert called.returncode == 5, called.stderr
        assert json.loads(called.stderr)["error"]["code"] == "tool_is_error", called.stderr
        result: dict[str, Any] = json.loads(called.stdout)
        assert result["isError"] is True, (tool, result)
        assert "structuredContent" not in result, (tool, result)
        error = json.loads(result["content"][0]["text"])["error"]
        assert error["code"] == "INVALID_INPUT", (tool, error)
        assert error["message"], tool
