"""Live `meimages serve` processes on loopback: start, wait until healthy, call, stop.

One launcher for every test and benchmark that needs a real server: it runs the
installed `meimages serve` command with the settings it is given (and none from the
caller's own `MEIMAGES_*` environment), on a free port of 127.0.0.1, logging to a file
in its data folder. Several instances make one deployment when they share the database
URL, the blob store and `deployment_secrets()`.

How the process is made is pluggable (`Spawn`): a plain subprocess by default, a
command prefix such as `taskset` for benchmarks, or a fork of a pre-imported server
(`testbed/forkserver.py`), which the test suite makes the default (`fork_by_default`).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from api.auth import issue_token
from api.settings import Settings
from testbed.graphql import GraphQLClient

ROOT = Path(__file__).resolve().parents[1]
MEIMAGES = Path(sys.executable).parent / "meimages"
# Safety nets against a hang, never verdicts about speed.
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0
HEALTH_POLL_S = 0.1
# Another process may take the free port between our probe and the server's bind.
PORT_ATTEMPTS = 3
# Whether `start_server` without a `spawn` forks its server from this process's fork
# server (testbed/forkserver.py) rather than starting a fresh interpreter; see
# `fork_by_default`.
_FORK_BY_DEFAULT = [False]


def fork_by_default() -> None:
    """From now on, a server started without a `spawn` is forked from a pre-imported
    server: the same `meimages serve` command line entry, without its seconds of imports
    (the test suite's choice, tests/conftest.py). Unless its environment differs from the
    fork server's in more than `MEIMAGES_*` settings (a variable such as
    PROMETHEUS_MULTIPROC_DIR is read at import time), or it runs several workers (they
    are interpreters of their own): then it gets a fresh interpreter as before."""
    _FORK_BY_DEFAULT[0] = True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deployment_secrets() -> dict[str, str]:
    """JWT secret, URL-signing secret and master key, as settings: what every instance of
    one deployment must share (and a CLI run against its database too)."""
    return {
        "MEIMAGES_JWT_SECRET": secrets.token_urlsafe(32),
        "MEIMAGES_URL_SECRET": secrets.token_urlsafe(32),
        "MEIMAGES_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }


def clean_environment(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its `MEIMAGES_*` variables, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEIMAGES_")}
    return {**env, **(settings or {})}


class ServerProcess(Protocol):
    """A started server process, however it was made."""

    @property
    def pid(self) -> int: ...

    def exited(self) -> bool: ...

    def stop(self) -> None:
        """End it (gracefully where it can) and reap it."""

    def kill(self) -> None:
        """SIGKILL it and reap it."""


# (command line after `meimages`, full environment, log file) -> the started process
Spawn = Callable[[list[str], dict[str, str], Path], ServerProcess]


@dataclass
class Subprocess:
    """A server run as a child process of ours."""

    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> bool:
        return self.popen.poll() is not None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(STOP_TIMEOUT_S)


def subprocess_spawn(prefix: Sequence[str] = ()) -> Spawn:
    """Run `meimages ARGS` as a subprocess, optionally under a wrapper (`taskset -c 0`)."""

    def spawn(args: list[str], env: dict[str, str], log: Path) -> ServerProcess:
        with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
            popen = subprocess.Popen(
                [*prefix, str(MEIMAGES), *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
            )
        return Subprocess(popen)

    return spawn


@dataclass
class LiveServer:
    """One healthy `meimages serve` process and the means to call it as anyone."""

    process: ServerProcess
    port: int
    data_dir: Path
    settings: dict[str, str]  # the MEIMAGES_* variables it was started with
    log: Path
    _signing: Settings | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def database_url(self) -> str:
        return self.settings.get("MEIMAGES_DATABASE_URL", "")

    def token(self, user: str, space: str | None = None, ttl_s: int = 3600) -> str:
        """A token this server accepts, minted from the secrets it reads (its settings,
        else the secrets file in its data folder), as `meimages token` would."""
        if self._signing is None:
            self._signing = Settings.from_env(
                self.settings, data_dir=self.data_dir
            ).with_local_secrets()
        return issue_token(self._signing, user, space, ttl_s)

    def headers(self, user: str, space: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, space)}"}

    def graphql(self, http: httpx.AsyncClient) -> GraphQLClient:
        """A client of this server's /graphql, sending through `http`."""
        return GraphQLClient(http, self.graphql_url, self.token)

    def cli(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `meimages ARGS` with this server's settings and data folder."""
        env = clean_environment({**self.settings, "MEIMAGES_DATA_DIR": str(self.data_dir)})
        return subprocess.run(
            [str(MEIMAGES), *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def alive(self) -> bool:
        return not self.process.exited()

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc status")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def workers(self) -> list[int]:
        """The worker processes of a `serve --workers` server (its spawned children;
        multiprocessing's resource tracker is not one)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [int(pid) for pid in children if b"spawn_main" in _cmdline(int(pid))]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:  # it has just ended
        return b""


class ServerFailed(RuntimeError):
    """The server exited, or never became healthy, while starting."""


def start_server(
    data_dir: Path,
    settings: Mapping[str, str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    spawn: Spawn | None = None,
    timeout_s: float = START_TIMEOUT_S,
    workers: int = 1,
) -> LiveServer:
    """Start `meimages serve` on a free loopback port and return it once /healthz is 200.

    `settings` are `MEIMAGES_*` variables (log level `warning` unless given); `env` other
    variables for the process (such as TMPDIR). Without MEIMAGES_DATABASE_URL the server
    uses SQLite in `data_dir`; without MEIMAGES_BLOB_URL the local folder. `workers`:
    processes serving the port (`serve --workers`); healthy then means one answers.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    # A third of the default pool: the suite's servers on two cores stay within
    # PostgreSQL's 100 connections however the test files pair up.
    given = {"MEIMAGES_LOG_LEVEL": "warning", "MEIMAGES_DB_POOL_SIZE": "10", **(settings or {})}
    environment = clean_environment({**(env or {}), **given})
    if spawn is None and _FORK_BY_DEFAULT[0] and workers == 1:
        from testbed import forkserver  # it imports this module

        spawn = forkserver.forking_spawn(subprocess_spawn())
    spawn = spawn or subprocess_spawn()
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        args += ["--data-dir", str(data_dir)]
        if workers > 1:
            args += ["--workers", str(workers)]
        log = data_dir / f"server-{port}.log"
        server = LiveServer(spawn(args, environment, log), port, data_dir, given, log)
        try:
            _wait_healthy(server, timeout_s)
            return server
        except ServerFailed:
            server.kill()
            if attempt == PORT_ATTEMPTS or "address already in use" not in server.log_tail():
                raise
    raise AssertionError("unreachable")


def _wait_healthy(server: LiveServer, timeout_s: float) -> None:
    with httpx.Client(timeout=10) as client:
        for _ in range(int(timeout_s / HEALTH_POLL_S)):
            if server.process.exited():
                raise ServerFailed(f"meimages serve exited:\n{server.log_tail()}")
            try:
                if client.get(f"{server.url}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(HEALTH_POLL_S)
    raise ServerFailed(f"meimages serve not healthy after {timeout_s:.0f} s:\n{server.log_tail()}")
