"""`--quick`: every benchmark's short mode, a run of seconds that proves it still works.

The figures of a quick run mean little (counts too small, no warm machine); the run fails
only when the benchmark crashes or sees failed requests. tests/test_benchmarks_run.py runs
each benchmark this way, so none stops working unnoticed. Flags given on the command line
win over the quick values.

A quick run forks its `meimages serve` servers (`server_spawn`) from the benchmark's fork
server (testbed/forkserver.py), which imports the server once: the imports are most of a
start (a second or two of CPU), and a benchmark may start several.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: a benchmark that starts no server needs none of it
    from testbed.server import Spawn


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
    a subprocess, under `taskset -c CORES` when given. In a quick run, a fork of this
    process's fork server pinned to the same cores, unless the server's environment
    differs in more than settings (a fork keeps what its imports read): a subprocess then
    too."""
    from testbed import forkserver
    from testbed.server import subprocess_spawn

    fresh = subprocess_spawn(("taskset", "-c", cores) if cores else ())
    if not quick:
        return fresh
    # The fork server starts (imports) while the benchmark prepares.
    threading.Thread(target=forkserver.shared, daemon=True).start()
    if not cores:
        return forkserver.forking_spawn(fresh)
    pinned = {int(core) for core in cores.split(",")}
    return forkserver.forking_spawn(fresh, after_fork=lambda pid: _pin(pid, pinned))


def _pin(pid: int, cores: set[int]) -> None:
    """What `taskset -c` does at the start, for a process just forked: each of its threads
    (so far its first, which starts the others) runs on `cores` only."""
    try:
        tasks = [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
    except FileNotFoundError:
        return  # it has ended already: start_server reports it
    for task in tasks:
        with contextlib.suppress(ProcessLookupError):  # a thread that has just ended
            os.sched_setaffinity(task, cores)


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
