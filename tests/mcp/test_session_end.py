"""An MCP session as a client sees it begin and end: this server's name and version, and
a normal end that leaves no error in the server's log."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from testbed.server import deployment_secrets, start_server


async def test_server_info_names_this_server_and_a_normal_end_logs_no_error(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path, deployment_secrets())
    try:
        for _ in range(2):
            async with (
                httpx.AsyncClient(headers=server.headers("alice"), timeout=60) as http,
                streamable_http_client(f"{server.url}/mcp", http_client=http) as (read, write, _),
                ClientSession(read, write) as session,
            ):
                info = (await session.initialize()).serverInfo
                assert (info.name, info.version) == ("meimages", metadata.version("meimages"))
                await session.list_resources()  # opens the server-initiated message stream
    finally:
        server.stop()  # waits for the process: every log line is written
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]
