"""Start real `meimages` processes without paying the imports each time.

The test suite starts well over a hundred servers, the crash tests a server or a command
dozens of times per backend, and the operations tests run a command at almost every
step. Importing the server (Strawberry, SQLAlchemy, Pillow, uvicorn, ...) costs one to
three seconds of CPU, most of each start. This process
imports it once, then forks one child per start; the child runs the very command line
entry the installed `meimages` runs (`api.cli.main`), with its own environment, output
files and working directory. Nothing is started before the fork (no thread, socket or
database connection), so the child is a fresh `meimages` process in all but the
already-imported modules. What a fork cannot give is a fresh interpreter: a test about the
process itself (its mapped libraries, `--workers`, an environment read at import time
such as prometheus_client's) starts a plain subprocess (`testbed.server.subprocess_spawn`).

`ForkServer` is the test's side: a `Spawn` for `testbed.server.start_server`, so a
forked server is started, health-checked and called like any other live server, plus
freeze and thaw, and `run`/`start` for commands; `shared()` is the one of this process
that `testbed.server.start_server` forks from by default in the test suite. It talks to this process over
stdin/stdout, one JSON object per line each way:
  {"op": "run", "args": [...], "env": {...}, "stdout": path, "stderr": path} -> {"pid": N}
      the output files (or FIFOs, which must have a reader) are opened here, before
      the fork, so a path that cannot be opened is an error answer, not a silent child
  {"op": "freeze", "pid": N}   SIGSTOP, answered once the child has stopped
  {"op": "thaw", "pid": N}     SIGCONT
  {"op": "signal", "pid": N, "signal": S}
  {"op": "kill", "pid": N}     SIGKILL, answered once the child is dead and reaped
  {"op": "wait", "pid": N}     reaps a child that has ended (the test asks only once
      the child's pidfd says so)
  kill and wait answer {"returncode": R, "cpu_s": C}: R as `subprocess` has it, C the
  child's CPU time (user and system), which only its parent, this process, can read
Children end on their own or by a signal: the test learns it from a pidfd of the child
(readable once it has ended), an event, never a poll of this process.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

from testbed.server import ROOT, STOP_TIMEOUT_S, ServerProcess, Spawn

# Safety nets against a hang, never verdicts about speed.
CLOSE_TIMEOUT_S = 300
COMMAND_TIMEOUT_S = 600


def preload() -> None:
    """Import what `meimages` imports, so each child starts from a warm process."""
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

    # What a server does once it has started (`api.cli.workers.settle_heap`), done here
    # once: the imported modules live as long as any child, so no child's collector
    # needs to scan them again (nor touch, and so copy, their pages).
    gc.collect()
    gc.freeze()


def open_output(path: str) -> int:
    """A descriptor to write `path`: a file (appended to), or a FIFO a reader holds."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK
    fd = os.open(path, flags, 0o600)  # ENXIO for a FIFO nobody reads: never blocks
    os.set_blocking(fd, True)
    return fd


def run_child(request: dict[str, Any], stdout: int, stderr: int) -> None:
    """In the forked child: become `meimages ARGS`; never returns."""
    code = 1
    try:
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        for fd in {stdout, stderr}:
            os.close(fd)
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


def reap(pid: int) -> dict[str, Any]:
    """Wait until the child has ended (without WUNTRACED: a stopped one is waited for)."""
    _pid, status, usage = os.wait4(pid, 0)
    # The wait status as `subprocess` reports it: the exit code, or -N for signal N.
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def start(request: dict[str, Any], children: set[int]) -> dict[str, Any]:
    outputs: list[int] = []
    try:
        for path in dict.fromkeys((request["stdout"], request["stderr"])):
            outputs.append(open_output(path))
        pid = os.fork()
        if pid == 0:
            run_child(request, outputs[0], outputs[-1])
    finally:
        for fd in outputs:  # the child has its own copies: EOF on a FIFO once it ends
            os.close(fd)
    children.add(pid)
    return {"pid": pid}


def handle(request: dict[str, Any], children: set[int]) -> dict[str, Any]:
    op = request["op"]
    if op == "run":
        try:
            return start(request, children)
        except OSError as exc:
            return {"error": f"cannot start {request['args']}: {exc!r}"}
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
    if op == "signal":
        os.kill(pid, int(request["signal"]))
        return {}
    if op == "kill":
        os.kill(pid, signal.SIGKILL)  # also ends a stopped child
        children.discard(pid)
        return reap(pid)
    if op == "wait":
        children.discard(pid)
        return reap(pid)
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
        for pid in children:  # the test went away: leave no process behind
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


class ForkServer:
    """The test's handle on this module run as a process: starts, freezes and kills
    servers, runs commands."""

    def __init__(self) -> None:
        # What its imports could have read; a child's environment may differ only in
        # settings (MEIMAGES_*), which `meimages` reads when it starts, after the fork.
        self.environment = _unset_settings(os.environ)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "testbed.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=self.environment,
        )
        # Where commands write their output (see `start`); removed by `close`.
        self.outputs = Path(tempfile.mkdtemp(prefix="meimages-forks-"))
        self._numbers = count(1)
        self.forked: list[Forked] = []
        # CPU time of the processes it started that have ended (see `Forked.cpu_s`).
        self.children_cpu_s = 0.0
        # One request and its answer at a time, whichever thread asks.
        self._lock = threading.Lock()
        assert self._read() == {"ready": True}

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the fork server died"
        return json.loads(line)  # type: ignore[no-any-return]

    def call(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        with self._lock:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            reply = self._read()
        assert "error" not in reply, reply
        return reply

    def accepts(self, environment: Mapping[str, str]) -> bool:
        """Whether a process with this environment can be forked from this one."""
        return _unset_settings(environment) == self.environment

    def fork(self, args: list[str], env: dict[str, str], stdout: Path, stderr: Path) -> Forked:
        """`meimages ARGS` forked, writing to `stdout` and `stderr` (may be one file)."""
        request = {"args": args, "env": env, "stdout": str(stdout), "stderr": str(stderr)}
        forked = Forked(self, self.call(op="run", **request)["pid"], stdout, stderr)
        self.forked.append(forked)
        return forked

    def spawn(self, args: list[str], env: dict[str, str], log: Path) -> ServerProcess:
        """`testbed.server.Spawn`: fork a `meimages ARGS` child of the fork server."""
        return self.fork(args, env, log, log)

    def start(self, args: list[str], env: dict[str, str]) -> Forked:
        """`meimages ARGS` forked, its output in files of its own (`Forked.output`)."""
        number = next(self._numbers)
        stdout, stderr = (self.outputs / f"{number}.{name}" for name in ("stdout", "stderr"))
        return self.fork(args, env, stdout, stderr)

    def run(
        self, args: list[str], env: dict[str, str], timeout_s: float = COMMAND_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        """`meimages ARGS` to its end, as `subprocess.run(..., capture_output=True,
        text=True)` would answer."""
        forked = self.start(args, env)
        try:
            code = forked.wait(timeout_s)
        except subprocess.TimeoutExpired:
            forked.kill()
            raise
        out, err = forked.output()
        return subprocess.CompletedProcess(["meimages", *args], code, out.decode(), err.decode())

    def freeze(self, pid: int) -> None:
        """SIGSTOP; returns once the server has really stopped."""
        self.call(op="freeze", pid=pid)

    def thaw(self, pid: int) -> None:
        self.call(op="thaw", pid=pid)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # it kills whatever child is left, then exits
        self.process.wait(timeout=CLOSE_TIMEOUT_S)
        assert self.process.stdout is not None
        self.process.stdout.close()
        for forked in self.forked:
            forked.forget()
        shutil.rmtree(self.outputs, ignore_errors=True)


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


def forking_spawn(fallback: Spawn, after_fork: Callable[[int], None] | None = None) -> Spawn:
    """A `testbed.server.Spawn` that forks `meimages` from this process's fork server
    (`shared()`), or hands the start to `fallback` (a fresh interpreter) when the
    environment differs in more than settings (`ForkServer.accepts`: a fork keeps what
    its imports read). `after_fork(pid)` runs on each forked child as soon as it exists
    (a benchmark pins it to its cores, as `taskset` pins a subprocess)."""

    def spawn(args: list[str], env: dict[str, str], log: Path) -> ServerProcess:
        forks = shared()
        if not forks.accepts(env):
            return fallback(args, env, log)
        forked = forks.spawn(args, env, log)
        if after_fork is not None:
            after_fork(forked.pid)
        return forked

    return spawn


@dataclass
class Forked:
    """A `meimages` process forked by the fork server: a server (`ServerProcess`), or a
    command called as an `asyncio.subprocess.Process` is (`communicate`, `returncode`,
    `send_signal`)."""

    forks: ForkServer
    pid: int
    stdout: Path
    stderr: Path
    returncode: int | None = None
    # CPU time (user and system) it used, once it has ended.
    cpu_s: float = 0.0
    # Readable once the process has ended. Opened right after the fork: only the fork
    # server reaps its children, and only when asked, so the pid is still this one's.
    pidfd: int = field(init=False)

    def __post_init__(self) -> None:
        self.pidfd = os.pidfd_open(self.pid)

    def _reap(self, op: str = "wait") -> int:
        if self.returncode is None:
            reaped = self.forks.call(op=op, pid=self.pid)
            self.returncode, self.cpu_s = int(reaped["returncode"]), float(reaped["cpu_s"])
            self.forks.children_cpu_s += self.cpu_s
            os.close(self.pidfd)
        return self.returncode

    def _ended(self, timeout_s: float | None) -> bool:
        if self.returncode is not None:
            return True
        readable, _, _ = select.select([self.pidfd], [], [], timeout_s)
        return bool(readable)

    def exited(self) -> bool:
        if self._ended(0):
            self._reap()
        return self.returncode is not None

    def poll(self) -> int | None:
        self.exited()
        return self.returncode

    def wait(self, timeout_s: float = COMMAND_TIMEOUT_S) -> int:
        if not self._ended(timeout_s):
            raise subprocess.TimeoutExpired(["meimages", str(self.pid)], timeout_s)
        return self._reap()

    async def wait_async(self) -> int:
        if self.returncode is None:
            loop = asyncio.get_running_loop()
            ended: asyncio.Future[None] = loop.create_future()

            def readable() -> None:
                if not ended.done():
                    ended.set_result(None)

            loop.add_reader(self.pidfd, readable)
            try:
                await ended
            finally:
                loop.remove_reader(self.pidfd)
        return self._reap()

    def output(self) -> tuple[bytes, bytes]:
        """What it wrote (once it has ended)."""
        return self.stdout.read_bytes(), self.stderr.read_bytes()

    async def communicate(self) -> tuple[bytes, bytes]:
        await self.wait_async()
        return self.output()

    def send_signal(self, sig: int) -> None:
        if not self.exited():
            self.forks.call(op="signal", pid=self.pid, signal=sig)

    def stop(self) -> None:
        """SIGTERM, as `testbed.server.Subprocess` stops a server; SIGKILL if it hangs."""
        if self.exited():
            return
        self.send_signal(signal.SIGTERM)
        try:
            self.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.returncode is None:
            self._reap("kill")

    def forget(self) -> None:
        """The fork server has gone (and ended it if it still ran)."""
        if self.returncode is None:
            self.returncode = -signal.SIGKILL
            os.close(self.pidfd)


if __name__ == "__main__":
    main()
