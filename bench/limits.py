"""What the per-owner request limit costs: list-query req/s with it off, in memory, on Redis.

    .venv/bin/python -m bench.limits [--seconds 5] [--runs 3]

Three `meimages serve` instances on the same data (SQLite, 10 images), each pinned to
core 0 in turn, wrk on core 1 (see bench.list_query). The limit is set far above the rate
reached, so every request is counted and none refused: the figures are the counting's
cost. The limit is kept near realistic sizes (twice the best rate measured with the limit
off in the same run, at least 2000 per second): a moving window holds up to `limit` entries, and on Redis each hit looks up
the entry `limit` places back, so a limit of millions would measure a list walk instead.
Needs `wrk` and, for the Redis row, Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

from bench.list_query import LIST_QUERY, lua_script, wrk
from bench.short import parse_args, server_spawn
from testbed.graphql import bearer, upload_form, upload_result
from testbed.images import jpeg
from testbed.server import deployment_secrets, start_server

REDIS_URL = "redis://127.0.0.1:6379/0"
ABOVE = "above"  # replaced by twice the best rate of the "limit off" row
VARIANTS = {
    "limit off": {"MEIMAGES_RATE_REQUESTS_PER_SECOND": "0"},
    "limit in memory": {"MEIMAGES_RATE_REQUESTS_PER_SECOND": ABOVE},
    "limit on Redis": {"MEIMAGES_RATE_REQUESTS_PER_SECOND": ABOVE, "MEIMAGES_REDIS_URL": REDIS_URL},
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parse_args(parser, seconds=0.25, runs=1)
    if shutil.which("wrk") is None:
        print("needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="meimages-bench-limits-"))
    secrets = deployment_secrets()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    on_core_0 = server_spawn(args.quick, "0")
    rows: list[tuple[str, int, float, float]] = []
    # A quick run's rows are a quarter second each on a machine whose load may change
    # between them (threefold, on a busy CI machine): its limit keeps well clear of any rate
    # reached.
    headroom, above = (10, 20_000) if args.quick else (2, 2000)
    try:
        for name, variant in VARIANTS.items():
            if name != "limit off":
                above = max(above, headroom * max(int(rps) for _, _, rps, _ in rows))
            limit = {k: str(above) if v == ABOVE else v for k, v in variant.items()}
            settings = {**secrets, **limit, "MEIMAGES_REDIS_KEY_PREFIX": prefix}
            server = start_server(tmp, settings, spawn=on_core_0)
            try:
                url = server.graphql_url
                if name == "limit off":
                    headers = bearer(server.token("bench"), preflight=True)
                    for i in range(10):
                        form = upload_form(jpeg(i), fields="__typename ... on MeImage { id }")
                        upload_result(httpx.post(url, headers=headers, timeout=60, **form))
                auth = {
                    "Authorization": f"Bearer {server.token('bench')}",
                    "Content-Type": "application/json",
                }
                body = json.dumps({"query": LIST_QUERY})
                answer = httpx.post(url, content=body, headers=auth)
                assert len(answer.json()["data"]["meImages"]) == 10, answer.text
                script = tmp / "list.lua"
                lua_script(script, [body], auth)
                for connections in (1, 32):
                    phase = f"{name} c={connections}"
                    runs = [
                        wrk(url, script, connections, args.seconds, phase=phase)
                        for _ in range(args.runs)
                    ]
                    rps = statistics.median(r[0] for r in runs)
                    rows.append((name, connections, rps, statistics.median(r[1] for r in runs)))
            finally:
                server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    off = {c: rps for name, c, rps, _ in rows if name == "limit off"}
    print(
        f"\n{'meImages x10, result cache':28} {'conc':>4} {'req/s':>8} {'p50 ms':>7} {'vs off':>7}"
    )
    for name, c, rps, p50 in rows:
        print(f"{name:28} {c:>4} {rps:>8.0f} {p50:>7.2f} {rps / off[c]:>7.3f}")
    print(
        f"\n(medians of {args.runs} runs x {args.seconds} s; limit {above}/s;"
        " server on core 0, wrk on core 1)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
