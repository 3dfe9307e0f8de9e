"""Start real `meimages serve` processes without paying the imports each time.

Importing the server (Strawberry, SQLAlchemy, Pillow, uvicorn, ...) costs one to two
seconds of CPU, most of each start; the test suite starts well over a hundred servers.
This process imports it once, then forks one child per start; the child runs the very
command line entry `meimages serve` runs (`api.cli.main`), with its own environment,
working folder and log file. Nothing is started before the fork (no thread, socket or
database connection), so the child is a fresh server in all but the already-imported
modules. What a fork cannot give is a fresh interpreter: a test about the process
itself (its mapped libraries, `--workers`, an environment read at import time such as
prometheus_client's) starts a plain subprocess (`testbed.server.subprocess_spawn`).

`ForkServer` is the caller's side: a `Spawn` for `testbed.server.start_server`, so a
forked server is started, health-checked and called like any other live server, plus
freeze and thaw. `shared()` is the one fork server of this process, started on first use.
It talks to this process over stdin/stdout, one JSON object per line each way:
  {"op": "serve", "args": [...], "env": {...}, "log": path}  -> {"pid": N}
  {"op": "freeze", "pid": N}   SIGSTOP, answered once the child has stopped
  {"op": "thaw", "pid": N}     SIGCONT
  {"op": "stop", "pid": N}     SIGTERM, answered once the child is dead and reaped
                               (SIGKILL after STOP_TIMEOUT_S)
  {"op": "kill", "pid": N}     SIGKILL, answered once the child is dead and reaped
  {"op": "exited", "pid": N}   -> {"exited": bool} (reaps a child that died by itself)
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.server import ROOT, STOP_TIMEOUT_S, ServerProcess

# Safety net against a hang when the fork server winds down.
CLOSE_TIMEOUT_S = 300
# How often a stopping child is checked for having ended (a poll, not a verdict).
REAP_POLL_S = 0.02


def preload() -> None:
    """Import what `meimages serve` imports, so each child starts from a warm process."""
    import aiosqlite  # noqa: F401
    import asyncpg  # noqa: F401
    import uvicorn
    import uvicorn.lifespan.on
    import uvicorn.loops.auto
    import uvicorn.protocols.http.auto
    import uvicorn.protocols.websockets.auto  # noqa: F401

    import api.app
    import api.cli  # noqa: F401
    import storage.s3  # noqa: F401


def run_child(request: dict[str, Any]) -> None:
    """In the forked child: become `meimages serve ARGS`; never returns."""
    code = 1
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(ROOT)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        import api.cli

        code = api.cli.main(request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def handle(request: dict[str, Any], children: set[int]) -> dict[str, Any]:
    op = request["op"]
    if op == "serve":
        pid = os.fork()
        if pid == 0:
            run_child(request)
        children.add(pid)
        return {"pid": pid}
    pid = int(request["pid"])
    if pid not in children:
        return {"error": f"not a live child: {pid}"}
    if op == "freeze":
        os.kill(pid, signal.SIGSTOP)
        _pid, status = os.waitpid(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            children.discard(pid)
            return {"error": f"child {pid} ended instead of stopping ({status})"}
        return {}
    if op == "thaw":
        os.kill(pid, signal.SIGCONT)
        return {}
    if op == "stop":
        os.kill(pid, signal.SIGTERM)
        for _ in range(int(STOP_TIMEOUT_S / REAP_POLL_S)):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                return {"returncode": os.waitstatus_to_exitcode(status)}
            time.sleep(REAP_POLL_S)
        op = "kill"  # a hung shutdown: end it as Subprocess.stop does
    if op == "kill":
        os.kill(pid, signal.SIGKILL)  # also ends a stopped child
        _pid, status = os.waitpid(pid, 0)  # without WUNTRACED: only once it is dead
        children.discard(pid)
        return {"returncode": os.waitstatus_to_exitcode(status)}
    if op == "exited":
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)
        return {"exited": bool(done)}
    return {"error": f"unknown op {op!r}"}


def main() -> None:
    preload()
    # Forking is only safe while this process has a single thread.
    assert threading.active_count() == 1, threading.enumerate()
    children: set[int] = set()
    print(json.dumps({"ready": True}), flush=True)
    try:
        for line in sys.stdin:
            print(json.dumps(handle(json.loads(line), children)), flush=True)
    finally:
        for pid in children:  # the test went away: leave no server behind
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


class ForkServer:
    """The caller's handle on this module run as a process: starts, stops, freezes and
    kills servers. Safe to call from several threads (one request at a time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # What its imports could have read; a child's environment may differ only in
        # settings (MEIMAGES_*), which the server reads when it starts, after the fork.
        self.environment = _unset_settings(os.environ)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "testbed.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=self.environment,
        )
        assert self._read() == {"ready": True}

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the fork server died"
        return json.loads(line)  # type: ignore[no-any-return]

    def call(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        with self.lock:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            reply = self._read()
        assert "error" not in reply, reply
        return reply

    def accepts(self, environment: dict[str, str]) -> bool:
        """Whether a server with this environment can be forked from this one."""
        return _unset_settings(environment) == self.environment

    def spawn(self, args: list[str], env: dict[str, str], log: Path) -> ServerProcess:
        """`testbed.server.Spawn`: fork a `meimages ARGS` child of the fork server."""
        return ForkedServer(self, self.call(op="serve", args=args, env=env, log=str(log))["pid"])

    def freeze(self, pid: int) -> None:
        """SIGSTOP; returns once the server has really stopped."""
        self.call(op="freeze", pid=pid)

    def thaw(self, pid: int) -> None:
        self.call(op="thaw", pid=pid)

    def close(self) -> None:
        assert self.process.stdin is not None
        with self.lock:
            if not self.process.stdin.closed:
                self.process.stdin.close()  # it kills whatever child is left, then exits
        self.process.wait(timeout=CLOSE_TIMEOUT_S)


# Variables no import reads: pytest's name of the test running now changes with each test.
_NOT_READ_AT_IMPORT = {"PYTEST_CURRENT_TEST"}


def _unset_settings(environment: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in environment.items()
        if not k.startswith("MEIMAGES_") and k not in _NOT_READ_AT_IMPORT
    }


_shared: list[ForkServer] = []
_shared_lock = threading.Lock()


def shared() -> ForkServer:
    """This process's one fork server, started on first use and closed at exit."""
    with _shared_lock:
        if not _shared:
            _shared.append(ForkServer())
            atexit.register(_shared[0].close)
        return _shared[0]


@dataclass
class ForkedServer:
    """A server forked by the fork server."""

    forks: ForkServer
    pid: int
    reaped: bool = False
    # How it ended, as `Popen.returncode` says it (-9: SIGKILL), once this side ended it.
    returncode: int | None = None

    def exited(self) -> bool:
        if not self.reaped:
            self.reaped = bool(self.forks.call(op="exited", pid=self.pid)["exited"])
        return self.reaped

    def stop(self) -> None:
        """SIGTERM, as `Subprocess.stop`: the server shuts down as it would in production."""
        if not self.reaped:
            self.reaped = True
            self.returncode = self.forks.call(op="stop", pid=self.pid)["returncode"]

    def kill(self) -> None:
        if not self.reaped:
            self.reaped = True
            self.returncode = self.forks.call(op="kill", pid=self.pid)["returncode"]


if __name__ == "__main__":
    main()
