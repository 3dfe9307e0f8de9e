"""`--quick`: every benchmark's short mode, a run of seconds that proves it still works.

The figures of a quick run mean little (counts too small, no warm machine); the run fails
only when the benchmark crashes or sees failed requests. tests/test_benchmarks_run.py runs
each benchmark this way, so none stops working unnoticed. Flags given on the command line
win over the quick values.

A quick run starts its `meimages serve` servers forked (`server_spawn`): importing the
server is most of a start (seconds of CPU), and a benchmark may start several, so one
process of the benchmark's imports the server once and forks each of them, which then
runs the very command line (`api.cli.main`) with its own environment, log and cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.forkserver
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: a benchmark that starts no server needs none of it
    from testbed.server import ServerProcess, Spawn

# What `meimages serve` imports, imported once by the process the servers are forked from
# (multiprocessing's fork server: it forks nothing but these children).
PRELOAD = [
    "bench.short",
    "aiosqlite",
    "asyncpg",
    "uvicorn",
    "uvicorn.lifespan.on",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "api.app",
    "api.cli",
    "api.cli.operations",
    "api.cli.workers",
    "api.observability.logs",
    "api.websocket_protocol",
    "resolvers.operations.restore",
]


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, **quick: Any
) -> argparse.Namespace:
    """Parse with a `--quick` flag that sets `quick` as the defaults."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="seconds-long run that checks the benchmark works (figures not meaningful)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args


def server_spawn(quick: bool, cores: str | None = None) -> Spawn:
    """How a benchmark starts `meimages serve` (`testbed.server.start_server`'s `spawn`):
    a subprocess, under `taskset -c CORES` when given; in a quick run, a fork of a process
    that imported the server once, pinned to the same cores."""
    from testbed.server import subprocess_spawn

    if not quick:
        return subprocess_spawn(("taskset", "-c", cores) if cores else ())
    forks = multiprocessing.get_context("forkserver")
    forks.set_forkserver_preload(PRELOAD)
    # It imports in the background from now on, while the benchmark prepares.
    multiprocessing.forkserver.ensure_running()
    pinned = {int(core) for core in cores.split(",")} if cores else None

    def spawn(args: list[str], env: dict[str, str], log: Path) -> ServerProcess:
        process = forks.Process(target=_serve, args=(args, env, str(log), pinned))
        process.start()
        return Forked(process)

    return spawn


def _serve(args: list[str], env: dict[str, str], log: str, cores: set[int] | None) -> None:
    """In the forked child: become `meimages ARGS`, as `testbed.server.subprocess_spawn`
    runs it (environment, working folder, output to the log)."""
    from testbed.server import ROOT

    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    # Standard input on descriptor 0, as a subprocess has it: `serve --workers` hands its
    # number down to the workers it spawns (multiprocessing left another one here).
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = os.fdopen(0, closefd=False)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(ROOT)
    if cores is not None:
        os.sched_setaffinity(0, cores)
    from api.cli import main

    sys.exit(main(args))


def run_forked(preload: Sequence[str], target: Callable[..., object], *args: object) -> int:
    """Run `target(*args)` in a fork of a process that imported `preload` once (the
    modules of the first call of a process serve its later ones); its exit code."""
    forks = multiprocessing.get_context("forkserver")
    forks.set_forkserver_preload(list(preload))
    process = forks.Process(target=target, args=args)
    process.start()
    process.join()
    assert process.exitcode is not None
    return process.exitcode


@dataclass
class Forked:
    """A server forked by `server_spawn` (a `testbed.server.ServerProcess`)."""

    process: multiprocessing.process.BaseProcess

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def exited(self) -> bool:
        return not self.process.is_alive()

    def stop(self) -> None:
        from testbed.server import STOP_TIMEOUT_S

        if self.process.is_alive():
            self.process.terminate()  # SIGTERM: the server stops gracefully
            self.process.join(STOP_TIMEOUT_S)
        self.kill()

    def kill(self) -> None:
        from testbed.server import STOP_TIMEOUT_S

        if self.process.is_alive():
            self.process.kill()
        self.process.join(STOP_TIMEOUT_S)
