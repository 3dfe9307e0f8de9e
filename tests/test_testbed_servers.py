"""The test suite's live servers (testbed/server.py): forked from a pre-imported server
where a fork serves as well as a fresh interpreter, a fresh interpreter where it does not."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from testbed.forkserver import Forked
from testbed.server import LiveServer, Subprocess, start_server


def _graphiql_status(server: LiveServer) -> int:
    """302 to GraphiQL where it is on, 404 where it is off (MEIMAGES_GRAPHIQL)."""
    response = httpx.get(f"{server.url}/graphql", headers={"accept": "text/html"}, timeout=30)
    return response.status_code


def test_forked_servers_follow_their_own_settings_and_stop_gracefully(tmp_path: Path) -> None:
    # Two in a row from one fork server: the second does not inherit the first's settings.
    for flag, status in (("false", 404), ("true", 302)):
        server = start_server(tmp_path / flag, {"MEIMAGES_GRAPHIQL": flag})
        try:
            assert isinstance(server.process, Forked)
            assert _graphiql_status(server) == status
        finally:
            server.stop()
        assert server.process.exited()
        # Ended by SIGTERM after its shutdown, as a subprocess is (uvicorn re-raises the
        # signal once it has finished), not killed.
        assert server.process.returncode == -signal.SIGTERM, server.log_tail()


def test_a_server_with_another_environment_gets_an_interpreter_of_its_own(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "data", env={"TMPDIR": str(tmp_path)})
    try:
        assert isinstance(server.process, Subprocess)
        environ = Path(f"/proc/{server.pid}/environ").read_bytes().decode()
        assert f"TMPDIR={tmp_path}\0" in environ
    finally:
        server.stop()
    assert isinstance(server.process, Subprocess)
    assert server.process.popen.returncode == -signal.SIGTERM, server.log_tail()
