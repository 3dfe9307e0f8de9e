"""List-query and mutation throughput through the full stack, next to a bare Starlette baseline.

    .venv/bin/python -m bench.list_query [--seconds 10]

Server and baseline each run pinned to core 0, the load generator (wrk) to core 1, on
loopback. Needs `wrk` (Debian package `wrk`). Prints a table of medians over repeated runs.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.short import parse_args, server_spawn
from testbed.graphql import bearer, upload_form, upload_result
from testbed.images import jpeg
from testbed.server import ROOT, LiveServer, clean_environment, free_port, start_server

LIST_QUERY = """query MeImages { meImages {
  id kind label tags mediaId storagePath publicUrl thumbnailUrl contentType width height
  usage { aiReference showInProfile } primaryFor createdAt updatedAt } }"""
SET_PRIMARY = "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename ... on MeImage { id primaryFor } } }"


UNLIMITED = {"MEIMAGES_RATE_REQUESTS_PER_SECOND": "0"}
# The servers share core 0; wrk gets core 1 to itself.
ON_SERVER_CORE = ("taskset", "-c", "0")


def start_baseline(body: Path, port: int) -> subprocess.Popen[bytes]:
    """The bare Starlette yardstick on core 0, once it answers."""
    proc = subprocess.Popen(
        [*ON_SERVER_CORE, sys.executable, "-m", "bench.baseline", str(body), str(port)],
        env={**clean_environment(), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):  # a safety net: it answers within a second or two
        try:
            if httpx.get(f"http://127.0.0.1:{port}/graphql", timeout=1).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the baseline server did not come up")


def lua_script(path: Path, bodies: list[str], headers: dict[str, str]) -> None:
    """A wrk script POSTing `bodies` in turn with `headers`. One body is set once, and
    wrk sends the request it formats once: a `request` function would run Lua and format
    each request anew, CPU that the load generator takes from the server it shares the
    cores with (about 0.02 of a core at 4,000 req/s; most of wrk's share is its sockets)."""
    header_lines = "\n".join(f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items())
    if len(bodies) == 1:
        path.write_text(
            f'wrk.method = "POST"\n{header_lines}\nwrk.body = {json.dumps(bodies[0])}\n'
        )
        return
    body_list = ", ".join(json.dumps(b) for b in bodies)
    path.write_text(
        f"""wrk.method = "POST"
{header_lines}
local bodies = {{ {body_list} }}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
"""
    )


def wrk(
    url: str,
    script: Path,
    connections: int,
    seconds: float,
    *,
    phase: str,
    cores: str = "1",
    threads: int = 1,
) -> tuple[float, float]:
    """(req/s, p50 ms) of one wrk run on `cores` with `threads` threads; `phase` names the
    run in the error raised when it failed (see `wrk_figures`).

    wrk's `-d` takes whole seconds; a shorter run (a quick run's) is a whole-second one
    cut short with SIGINT, on which wrk stops and reports what it measured so far. A short
    window in which no request completed (a busy machine) is run again, four times as
    long, up to SHORT_RUN_ATTEMPTS times: a quick run proves the benchmark works, not how
    fast the machine is."""
    for _ in range(SHORT_RUN_ATTEMPTS):
        command = [
            "taskset",
            "-c",
            cores,
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{math.ceil(seconds)}s",
            # wrk's default (2 s) would count a slow answer as a socket error: this one
            # only guards against a hang.
            f"--timeout={WRK_TIMEOUT_S}s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        if seconds == int(seconds):
            return wrk_figures(
                subprocess.run(command, check=True, capture_output=True, text=True).stdout, phase
            )
        out = _cut_short(command, seconds)
        if _completed(out) != 0:
            break
        seconds *= 4
    return wrk_figures(out, phase)


# A wrk run's answer that takes longer than this is a hang, not a slow machine.
WRK_TIMEOUT_S = 60
# How many times a short window in which nothing completed is tried (see `wrk`).
SHORT_RUN_ATTEMPTS = 3


def _completed(out: str) -> int | None:
    completed = re.search(r"^\s*(\d+) requests in ", out, re.MULTILINE)
    return None if completed is None else int(completed.group(1))


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_figures(out: str, phase: str) -> tuple[float, float]:
    """(req/s, p50 ms) from the output of `wrk --latency`, or a RuntimeError naming the
    phase and holding the output when the run failed: no request completed, any non-2xx/3xx
    answer, or any socket error. Read errors count too: wrk counts one when the server
    closes a connection before a whole answer, which a healthy run never shows (none in
    37 runs of the quick list_query, limits, observability, compare and workers; a run cut
    short with SIGINT stops wrk's loop, it is not the server closing)."""
    completed = _completed(out)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    p50 = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    if completed is None or rps is None or p50 is None:
        raise RuntimeError(f"{phase}: wrk printed no figures:\n{out}")
    if completed == 0:
        raise RuntimeError(f"{phase}: wrk completed no request:\n{out}")
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if failed:
        raise RuntimeError(f"{phase}: {failed.group(1)} failed responses:\n{out}")
    errors = re.search(r"Socket errors: (connect \d+, read \d+, write \d+, timeout \d+)", out)
    if errors:  # wrk prints the line only when one of them is not zero
        raise RuntimeError(f"{phase}: socket errors ({errors.group(1)}):\n{out}")
    return float(rps.group(1)), float(p50.group(1)) * _UNITS_MS[p50.group(2)]


def ratio(value: float, reference: float, spec: str) -> str:
    """`value / reference` formatted with `spec`, or "n/a" when there is nothing to divide by."""
    return format(value / reference, spec) if reference else "n/a"


def _cut_short(command: list[str], seconds: float) -> str:
    """wrk's output when stopped (SIGINT) `seconds` after it began to load the server."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wrk catches SIGINT once its threads are running (before that, SIGINT would end it
    # without a report): wait for its handler, as /proc shows it.
    while proc.poll() is None and not _catches_sigint(proc.pid):
        time.sleep(0.005)
    time.sleep(seconds)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, command, out, err)
    return out


def _catches_sigint(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:  # it has just ended
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & 1 << (signal.SIGINT - 1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parse_args(parser, seconds=0.25, runs=1)
    if shutil.which("wrk") is None:
        print("needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="meimages-bench-"))
    on_core_0 = server_spawn(args.quick, "0")
    servers: list[LiveServer] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # One owner at full speed would meet the per-owner request limit: it is off here
        # (this measures the query path; bench.limits measures the limiter).
        server = start_server(tmp, UNLIMITED, spawn=on_core_0)
        url = server.graphql_url
        servers.append(server)
        auth = {
            "Authorization": f"Bearer {server.token('bench')}",
            "Content-Type": "application/json",
        }
        ids = []
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
            headers = bearer(server.token("bench"), preflight=True)
            ids.append(upload_result(httpx.post(url, headers=headers, timeout=60, **form))["id"])
        list_body = json.dumps({"query": LIST_QUERY})
        response = httpx.post(url, content=list_body, headers=auth)
        assert len(response.json()["data"]["meImages"]) == 10
        (tmp / "body.json").write_bytes(response.content)
        base_port = free_port()
        procs.append(start_baseline(tmp / "body.json", base_port))
        list_lua, mut_lua = tmp / "list.lua", tmp / "mut.lua"
        lua_script(list_lua, [list_body], auth)
        lua_script(
            mut_lua,
            [json.dumps({"query": SET_PRIMARY, "variables": {"id": i}}) for i in ids[:2]],
            auth,
        )

        rows: list[tuple[str, int, float, float, float | None]] = []
        etag = httpx.post(url, content=list_body, headers=auth).headers["etag"]
        etag_lua = tmp / "etag.lua"
        lua_script(etag_lua, [list_body], {**auth, "If-None-Match": etag})
        # A second instance on the same data, without the result cache.
        uncached = start_server(
            tmp, {**UNLIMITED, "MEIMAGES_QUERY_CACHE_ENTRIES": "0"}, spawn=on_core_0
        )
        servers.append(uncached)
        uncached_url = uncached.graphql_url
        for c in (1, 32):
            base_runs = [
                wrk(
                    f"http://127.0.0.1:{base_port}/graphql",
                    list_lua,
                    c,
                    args.seconds,
                    phase=f"baseline c={c}",
                )
                for _ in range(args.runs)
            ]
            base_rps = statistics.median(r[0] for r in base_runs)
            rows.append(
                (
                    "baseline (bare Starlette, same JSON)",
                    c,
                    base_rps,
                    statistics.median(r[1] for r in base_runs),
                    None,
                )
            )
            for name, target, script in (
                ("meImages x10, no result cache", uncached_url, list_lua),
                ("meImages x10, result cache", url, list_lua),
                ("meImages x10, If-None-Match -> 304", url, etag_lua),
            ):
                runs = [
                    wrk(target, script, c, args.seconds, phase=f"{name} c={c}")
                    for _ in range(args.runs)
                ]
                rps = statistics.median(r[0] for r in runs)
                rows.append((name, c, rps, statistics.median(r[1] for r in runs), rps / base_rps))
        for c in (1, 32):
            runs = [
                wrk(url, mut_lua, c, args.seconds, phase=f"setPrimary c={c}")
                for _ in range(args.runs)
            ]
            rows.append(
                (
                    "setPrimary (swap + events)",
                    c,
                    statistics.median(r[0] for r in runs),
                    statistics.median(r[1] for r in runs),
                    None,
                )
            )

        print(f"\n{'operation':38} {'conc':>4} {'req/s':>10} {'p50 ms':>8} {'ratio':>7}")
        for name, c, rps, p50, ratio in rows:
            print(
                f"{name:38} {c:>4} {rps:>10.0f} {p50:>8.2f} {'' if ratio is None else f'{ratio:.3f}':>7}"
            )
        print(
            f"\n(medians of {args.runs} runs x {args.seconds} s; server and baseline on core 0, wrk on core 1)"
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
