"""List-query req/s on PostgreSQL with `serve --workers 2` against one worker, on two cores.

    .venv/bin/python -m bench.workers [--seconds 8] [--runs 3] [--connections 32]

Two servers on one fresh PostgreSQL database (127.0.0.1:5432) holding one owner's 10
images: one with a single worker, one with two; then the same pair with the query cache
off. Servers, wrk (two threads) and PostgreSQL share cores 0 and 1; runs of the two
servers alternate, so a change in the machine's load meets both. Besides req/s, each
row shows the CPU the server's processes, PostgreSQL's and wrk used, in cores (CPU
seconds over wall seconds): where the second core's time went; and the server's CPU per
request, which shows what two workers cost that one does not. Needs `wrk` and `taskset`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx

from bench.list_query import LIST_QUERY, lua_script, ratio, wrk
from bench.short import parse_args, server_spawn
from testbed.graphql import bearer, upload_form, upload_result
from testbed.images import jpeg
from testbed.server import LiveServer, cpu_seconds, deployment_secrets, start_server

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
CORES = "0,1"
WARM_UP_S = 2
# Warm-ups until every worker has served (connections go to whichever accepts first).
WARM_UPS = 5
VARIANTS = {
    "list x10, query cache": {},
    "list x10, no query cache": {"MEIMAGES_QUERY_CACHE_ENTRIES": "0"},
}


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL process on this machine, by pid."""
    seconds = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                seconds[int(entry.name)] = cpu_seconds(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended while we looked
    return seconds


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two samples by the processes alive at the second."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _server_cpu(server: LiveServer) -> float:
    return sum(cpu_seconds(pid) for pid in [server.pid, *server.workers()])


def _children_cpu() -> float:
    """CPU seconds of this process's children that have ended (each wrk run, once over)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measured(run: Callable[[], tuple[float, float]], server: LiveServer) -> tuple[float, ...]:
    """(req/s, p50 ms, server cores, PostgreSQL cores, wrk cores) of one wrk run."""
    wall, own, pg, wrk_cpu = time.monotonic(), _server_cpu(server), _postgres_cpu(), _children_cpu()
    rps, p50 = run()
    wall = time.monotonic() - wall
    return (
        rps,
        p50,
        (_server_cpu(server) - own) / wall,
        _used(pg, _postgres_cpu()) / wall,
        (_children_cpu() - wrk_cpu) / wall,
    )


async def _database() -> str:
    name = f"meimages_bench_workers_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _seed(server: LiveServer) -> None:
    headers = bearer(server.token("bench"), preflight=True)
    for i in range(10):
        form = upload_form(
            jpeg(i, size=(640, 480)),
            fields="__typename ... on MeImage { id }",
            input={"label": f"reference photo {i}", "tags": ["studio", f"t{i}"], "kind": "FACE"},
        )
        upload_result(httpx.post(server.graphql_url, headers=headers, timeout=60, **form))


def _every_worker_serves(
    server: LiveServer, script: Path, connections: int, seconds: float
) -> None:
    """A warm-up under load, after which every worker must have used CPU: a worker that
    had not started would leave the other alone to serve. The kernel hands each of wrk's
    keep-alive connections to whichever worker accepts first, so on a busy machine one
    warm-up may give them all to one worker: each further warm-up opens new connections
    (`WARM_UPS` at most)."""
    before = {pid: cpu_seconds(pid) for pid in server.workers()}
    idle = list(before)
    for _ in range(WARM_UPS):
        wrk(
            server.graphql_url,
            script,
            connections,
            seconds,
            phase="warm-up of serve --workers 2",
            cores=CORES,
            threads=2,
        )
        idle = [pid for pid, cpu in before.items() if cpu_seconds(pid) <= cpu]
        if not idle:
            return
    raise RuntimeError(f"workers {idle} served nothing in {WARM_UPS} warm-ups")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    # Short runs keep to 8 connections: each worker's pool opens up to one database
    # connection per request in flight, and the suite shares PostgreSQL's 100.
    args = parse_args(parser, seconds=0.25, runs=1, connections=8)
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"needs {tool}", file=sys.stderr)
            return 2
    if (os.cpu_count() or 1) < 2:
        print("needs two cores", file=sys.stderr)
        return 2
    name = asyncio.run(_database())
    database = {"MEIMAGES_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + name}
    # Rate limits off: this measures serving, not the limiter (bench.limits does that).
    common = {**deployment_secrets(), **database, "MEIMAGES_RATE_REQUESTS_PER_SECOND": "0"}
    on_two_cores = server_spawn(args.quick, CORES)
    servers: list[LiveServer] = []
    rows: list[tuple[str, int, tuple[float, ...]]] = []
    tmp = Path(tempfile.mkdtemp(prefix="meimages-bench-workers-"))
    try:
        for variant, settings in VARIANTS.items():
            pair = {}
            for workers in (1, 2):
                live = start_server(
                    tmp / f"{len(servers)}",
                    {**common, **settings},
                    spawn=on_two_cores,
                    workers=workers,
                )
                servers.append(live)
                pair[workers] = live
            if len(servers) == 2:
                _seed(pair[1])
            auth = {
                "Authorization": f"Bearer {pair[1].token('bench')}",
                "Content-Type": "application/json",
            }
            body = json.dumps({"query": LIST_QUERY})
            script = tmp / "list.lua"
            lua_script(script, [body], auth)
            for live in pair.values():
                answer = httpx.post(live.graphql_url, content=body, headers=auth, timeout=30)
                assert len(answer.json()["data"]["meImages"]) == 10, answer.text
            # A quick run's warm-up is as short as its runs (figures not judged).
            warm_up = args.seconds if args.quick else WARM_UP_S
            _every_worker_serves(pair[2], script, args.connections, warm_up)
            runs: dict[int, list[tuple[float, ...]]] = {1: [], 2: []}
            for _ in range(args.runs):
                for workers, live in pair.items():
                    run = functools.partial(
                        wrk,
                        live.graphql_url,
                        script,
                        args.connections,
                        args.seconds,
                        phase=f"{variant}, {workers} worker(s)",
                        cores=CORES,
                        threads=2,
                    )
                    runs[workers].append(_measured(run, live))
            for workers, measured in runs.items():
                medians = tuple(statistics.median(m[i] for m in measured) for i in range(5))
                rows.append((variant, workers, medians))
        print(
            f"\n{'operation':26} {'workers':>7} {'req/s':>9} {'p50 ms':>7} {'server':>7}"
            f" {'pg':>5} {'wrk':>5} {'us/req':>7} {'x one':>6}"
        )
        for variant, workers, (rps, p50, own, pg, wrk_cores) in rows:
            one = next(r[2][0] for r in rows if r[0] == variant and r[1] == 1)
            print(
                f"{variant:26} {workers:>7} {rps:>9.0f} {p50:>7.2f} {own:>7.2f} {pg:>5.2f}"
                f" {wrk_cores:>5.2f} {ratio(own * 1e6, rps, '7.0f')} {rps / one:>6.2f}"
            )
        print(
            f"\n(medians of {args.runs} runs x {args.seconds} s at c={args.connections}; servers,"
            f" wrk -t2 and PostgreSQL on cores {CORES}; server, pg and wrk: cores used;"
            f" us/req: server CPU per request; load {os.getloadavg()[0]:.2f})"
        )
    finally:
        for live in servers:
            live.stop()
        asyncio.run(_drop(name))
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
