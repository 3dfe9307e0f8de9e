"""Every benchmark in bench/ runs in its short mode (`--quick`): it completes, exits 0 and
prints its figures. The figures are not judged (the machine may be busy); a benchmark
fails here only when it crashes or sees failed requests (each raises on those)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testbed.server import clean_environment

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# Modules of bench/ that are not benchmarks: servers the benchmarks start, the helper.
HELPERS = {"__init__", "short", "baseline", "stock_strawberry"}
BENCHMARKS = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in HELPERS)
# Tools from outside Python a benchmark needs (.ci/run installs them on a fresh machine).
NEEDS = {
    "list_query": ("wrk", "taskset"),
    "limits": ("wrk", "taskset"),
    "observability": ("wrk", "taskset"),
    "compare": ("wrk", "taskset", "node", "npm"),
    "writes": ("taskset",),
    "workers": ("wrk", "taskset"),
    "webapp": ("node", "npm", "chromium"),
}
SAFETY_NET_S = 900  # a quick run takes seconds; this only stops a hung one


def test_every_benchmark_is_listed_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [m for m in BENCHMARKS if f"python -m bench.{m}" not in readme]
    assert not missing, f"bench modules the README does not show how to run: {missing}"


@pytest.mark.parametrize("module", BENCHMARKS)
def test_benchmark_runs_in_its_short_mode(module: str) -> None:
    absent = [tool for tool in NEEDS.get(module, ()) if shutil.which(tool) is None]
    if absent:
        pytest.skip(f"bench.{module} needs {', '.join(absent)} (.ci/run installs them)")
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--quick"],
        cwd=ROOT,
        env={**clean_environment(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=SAFETY_NET_S,
    )
    assert done.returncode == 0, (
        f"bench.{module} --quick exited {done.returncode}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
    assert done.stdout.strip(), f"bench.{module} printed no figures\n{done.stderr[-3000:]}"
