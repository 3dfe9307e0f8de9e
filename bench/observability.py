"""What the instrumentation costs: list-query req/s with metrics and tracing off vs on.

    .venv/bin/python -m bench.observability [--seconds 5] [--runs 3] [--query-cache both]

One server per mode on the same data (off; metrics; metrics + tracing exporting over OTLP
to a local sink), with and without the query cache. Runs are interleaved (mode after
mode, round after round) so a noisy neighbour hits every mode alike; the table shows the
median req/s and each mode's ratio to "off". Servers on core 0, wrk on core 1, loopback.
Needs `wrk`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from bench.list_query import LIST_QUERY, lua_script, ratio, wrk
from bench.short import parse_args, server_spawn
from testbed.graphql import bearer, upload_form, upload_result
from testbed.images import jpeg
from testbed.server import LiveServer, deployment_secrets, start_server

METRICS = {"MEIMAGES_METRICS_TOKEN": "bench-metrics"}
MODES = ("off", "metrics", "metrics + tracing")


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that accepts and drops every export."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--query-cache", choices=("both", "on", "off"), default="both", help="rows to measure"
    )
    args = parse_args(parser, seconds=0.25, runs=1, query_cache="on")
    caches = {"both": (True, False), "on": (True,), "off": (False,)}[args.query_cache]
    if shutil.which("wrk") is None:
        print("needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    otlp = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}",
        "OTEL_TRACES_EXPORTER": "otlp",
    }
    on_core_0 = server_spawn(args.quick, "0")
    secrets = deployment_secrets()
    servers: dict[tuple[str, bool], LiveServer] = {}
    tmp = Path(tempfile.mkdtemp(prefix="meimages-bench-obs-"))
    try:
        for cached in caches:
            cache = {} if cached else {"MEIMAGES_QUERY_CACHE_ENTRIES": "0"}
            for mode in MODES:
                # The rate limit is off: bench.limits measures it.
                settings = {
                    **secrets,
                    **cache,
                    "MEIMAGES_RATE_REQUESTS_PER_SECOND": "0",
                    **({} if mode == "off" else METRICS),
                }
                env = otlp if "tracing" in mode else {}
                servers[mode, cached] = start_server(tmp, settings, env=env, spawn=on_core_0)
        first = servers["off", caches[0]]
        token = first.token("bench")
        for i in range(10):
            form = upload_form(
                jpeg(i, size=(640, 480)),
                fields="__typename ... on MeImage { id }",
                input={"label": f"reference photo {i}", "tags": ["studio"], "kind": "FACE"},
            )
            headers = bearer(token, preflight=True)
            upload_result(httpx.post(first.graphql_url, headers=headers, timeout=60, **form))
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps({"query": LIST_QUERY, "operationName": "MeImages"})
        for live in servers.values():
            answer = httpx.post(live.graphql_url, content=body, headers=auth, timeout=30)
            assert len(answer.json()["data"]["meImages"]) == 10, answer.text
        script = tmp / "list.lua"
        lua_script(script, [body], auth)

        rps: dict[tuple[str, bool], list[float]] = {key: [] for key in servers}
        # Server CPU time per request: far steadier than req/s on a busy machine.
        cpu_ms: dict[tuple[str, bool], list[float]] = {key: [] for key in servers}
        for _ in range(args.runs):
            for key, live in servers.items():
                before = live.cpu_seconds()
                phase = f"{key[0]}, query cache {'on' if key[1] else 'off'}"
                rate = wrk(live.graphql_url, script, args.connections, args.seconds, phase=phase)[0]
                rps[key].append(rate)
                cpu_ms[key].append((live.cpu_seconds() - before) * 1000 / (rate * args.seconds))
        metrics_text = httpx.get(
            f"{servers['metrics', caches[0]].url}/metrics",
            headers={"Authorization": f"Bearer {METRICS['MEIMAGES_METRICS_TOKEN']}"},
        ).text
        assert "meimages_http_requests_total" in metrics_text

        print(
            f"\n{'meImages x10':18} {'mode':19} {'req/s':>7} {'vs off':>8}"
            f" {'CPU ms/req':>11} {'vs off':>8}"
        )
        for cached in caches:
            off = statistics.median(rps["off", cached])
            off_cpu = statistics.median(cpu_ms["off", cached])
            for mode in MODES:
                median = statistics.median(rps[mode, cached])
                cpu = statistics.median(cpu_ms[mode, cached])
                label = "query cache on" if cached else "query cache off"
                print(
                    f"{label:18} {mode:19} {median:>7.0f} {ratio(median - off, off, '+.1%'):>8}"
                    f" {cpu:>11.3f} {ratio(cpu - off_cpu, off_cpu, '+.1%'):>8}"
                )
        print(
            f"\n(medians of {args.runs} interleaved runs x {args.seconds} s, "
            f"{args.connections} connections; servers on core 0, wrk on core 1)"
        )
    finally:
        for live in servers.values():
            live.stop()
        sink.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
