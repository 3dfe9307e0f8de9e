"""The list query side by side: meimages next to other stacks serving the same payload.

    .venv/bin/python -m bench.compare [--seconds 3] [--rounds 3]

Rows: a bare Starlette endpoint returning the bytes (`bench.baseline`), graphql-yoga
(Node; installed here from bench/yoga's lock with `npm ci`) and stock Strawberry
(`bench.stock_strawberry`), both executing the query over the payload held in memory,
then meimages without its result cache (authenticates, checks the owner's data version,
reads its pool and executes), with it, and answering If-None-Match with 304. Every server
runs pinned to core 0 on uvloop + httptools (yoga: Node's own loop and parser), the load
generator (`wrk`, one thread) to core 1, on loopback; at c=1 and c=32, in interleaved
rounds (medians shown).
Prints req/s, p50 and the ratios to yoga and to the bare baseline, and the load average.
Needs `wrk` (Debian package `wrk`), Node 20+ and npm.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.list_query import LIST_QUERY, lua_script, wrk
from bench.short import parse_args, server_spawn
from testbed.graphql import bearer, upload_form, upload_result
from testbed.images import jpeg
from testbed.server import ROOT, LiveServer, clean_environment, free_port, start_server

ON_SERVER_CORE = ("taskset", "-c", "0")
YOGA = ROOT / "bench" / "yoga"
START_TIMEOUT_S = 60.0  # a safety net: each answers within seconds


def _ensure_yoga() -> None:
    """`npm ci` in bench/yoga unless its node_modules matches the lock already."""
    stamp = YOGA / "node_modules" / ".lock-copy"
    lock = (YOGA / "package-lock.json").read_text()
    if stamp.exists() and stamp.read_text() == lock:
        return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=YOGA,
        check=True,
        timeout=900,
    )
    stamp.write_text(lock)


def _start(command: Sequence[str], port: int, body: str) -> subprocess.Popen[bytes]:
    """A yardstick server on core 0, once it answers the list query."""
    proc = subprocess.Popen(
        [*ON_SERVER_CORE, *command],
        env={**clean_environment(), "PYTHONPATH": str(ROOT), "NODE_ENV": "production"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            answer = httpx.post(
                url, content=body, headers={"Content-Type": "application/json"}, timeout=2
            )
            if answer.status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{command[0]} did not come up on {url}")


def _comparable(payload: Any) -> Any:
    """The payload with each media URL cut to its path: a URL names the server that
    signed it (host, port) and carries a signature and expiry of its own."""
    if isinstance(payload, dict):
        return {
            key: urlsplit(value).path
            if key.endswith("Url") and isinstance(value, str)
            else _comparable(value)
            for key, value in payload.items()
        }
    if isinstance(payload, list):
        return [_comparable(item) for item in payload]
    return payload


def _same_payload(url: str, body: str, expected: object, headers: dict[str, str]) -> None:
    got = httpx.post(url, content=body, headers=headers, timeout=10).json()
    if _comparable(got) != _comparable(expected):
        raise RuntimeError(f"{url} answers another payload than meimages: {str(got)[:300]}")


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parse_args(parser, seconds=0.25, rounds=1)
    for tool in ("wrk", "taskset", "node", "npm"):
        if shutil.which(tool) is None:
            print(f"needs {tool} (wrk: apt-get install wrk)", file=sys.stderr)
            return 2
    _ensure_yoga()
    tmp = Path(tempfile.mkdtemp(prefix="meimages-compare-"))
    on_core_0 = server_spawn(args.quick, "0")
    # The per-owner rate limit is measured by bench.limits; here it would answer 429s.
    unlimited = {"MEIMAGES_RATE_REQUESTS_PER_SECOND": "0"}
    servers: list[LiveServer] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        servers.append(start_server(tmp, unlimited, spawn=on_core_0))
        cached = servers[0]
        token = cached.token("bench")
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for i in range(10):
            form = upload_form(
                jpeg(i, size=(640, 480)),
                fields="__typename ... on MeImage { id }",
                input={
                    "label": f"reference photo {i}",
                    "tags": ["studio", f"t{i}"],
                    "kind": "FACE",
                },
                filename="a.jpg",
            )
            upload_result(
                httpx.post(
                    cached.graphql_url, headers=bearer(token, preflight=True), timeout=60, **form
                )
            )
        body = json.dumps({"query": LIST_QUERY})
        answer = httpx.post(cached.graphql_url, content=body, headers=auth)
        payload = answer.json()
        assert len(payload["data"]["meImages"]) == 10, payload
        (tmp / "body.json").write_bytes(answer.content)
        etag = answer.headers["etag"]
        servers.append(
            start_server(tmp, {**unlimited, "MEIMAGES_QUERY_CACHE_ENTRIES": "0"}, spawn=on_core_0)
        )
        uncached = servers[-1]

        ports = {name: free_port() for name in ("baseline", "yoga", "strawberry")}
        body_file = str(tmp / "body.json")
        python = sys.executable
        procs.append(
            _start(
                [python, "-m", "bench.baseline", body_file, str(ports["baseline"])],
                ports["baseline"],
                body,
            )
        )
        procs.append(
            _start(
                ["node", str(YOGA / "server.mjs"), body_file, str(ports["yoga"])],
                ports["yoga"],
                body,
            )
        )
        procs.append(
            _start(
                [python, "-m", "bench.stock_strawberry", body_file, str(ports["strawberry"])],
                ports["strawberry"],
                body,
            )
        )
        url = {name: f"http://127.0.0.1:{port}/graphql" for name, port in ports.items()}
        for name in ("yoga", "strawberry"):
            _same_payload(url[name], body, payload, auth)
        _same_payload(uncached.graphql_url, body, payload, auth)

        list_lua, etag_lua = tmp / "list.lua", tmp / "etag.lua"
        lua_script(list_lua, [body], auth)
        lua_script(etag_lua, [body], {**auth, "If-None-Match": etag})
        rows = [
            ("bare Starlette, same bytes", url["baseline"], list_lua),
            ("graphql-yoga, from memory", url["yoga"], list_lua),
            ("stock Strawberry, from memory", url["strawberry"], list_lua),
            ("meimages, no result cache", uncached.graphql_url, list_lua),
            ("meimages, result cache", cached.graphql_url, list_lua),
            ("meimages, If-None-Match -> 304", cached.graphql_url, etag_lua),
        ]
        print(f"load average before: {_load()}", flush=True)
        # Rounds go through every row in turn, so a burst of other work on the machine
        # lands on one round of each row rather than on all of one; medians are shown.
        runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for c in (1, 32):
            if not args.quick:  # a quick run's figures are not judged: no warm-up
                for name, target, script in rows:
                    wrk(target, script, c, 1, phase=f"warm-up c={c} {name}")
            for round_ in range(args.rounds):
                for name, target, script in rows:
                    phase = f"round {round_ + 1} c={c} {name}"
                    rps, p50 = wrk(target, script, c, args.seconds, phase=phase)
                    runs.setdefault((name, c), []).append((rps, p50))
                    print(f"  round {round_ + 1} c={c} {name}: {rps:.0f}/s", flush=True)
                print(f"  (load average {_load()})", flush=True)
        results = {
            key: (statistics.median(r[0] for r in got), statistics.median(r[1] for r in got))
            for key, got in runs.items()
        }
        print(
            f"\n{'server':34} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'vs yoga':>8} {'vs bare':>8}"
        )
        for c in (1, 32):
            yoga = results[("graphql-yoga, from memory", c)][0]
            bare = results[("bare Starlette, same bytes", c)][0]
            for name, _target, _script in rows:
                rps, p50 = results[(name, c)]
                print(
                    f"{name:34} {c:>4} {rps:>9.0f} {p50:>8.2f} {rps / yoga:>8.2f} {rps / bare:>8.2f}"
                )
        print(
            f"\n(medians of {args.rounds} interleaved rounds x {args.seconds} s; "
            "servers on core 0, wrk -t1 on core 1; "
            f"load average after: {_load()})"
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        for live in servers:
            live.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
