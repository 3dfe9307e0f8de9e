"""The benchmarks' verdict on a wrk run (bench.list_query.wrk_figures): figures from a
healthy run, a RuntimeError naming the phase and holding wrk's output from any other.
The outputs below are wrk 4.1's, as printed on loopback."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from bench.list_query import lua_script, ratio, wrk, wrk_figures

HEALTHY = """\
Running 1s test @ http://127.0.0.1:52381/graphql
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   406.84us  691.80us   5.48ms   89.30%
    Req/Sec     5.71k   388.13     6.13k    66.67%
  Latency Distribution
     50%   95.00us
     75%  393.00us
     90%    1.17ms
     99%    3.55ms
  1714 requests in 301.09ms, 12.82MB read
Requests/sec:   5692.71
Transfer/sec:     42.56MB
"""

# A server that accepts connections and never answers.
NOTHING_COMPLETED = """\
Running 3s test @ http://127.0.0.1:45999/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  0 requests in 3.01s, 0.00B read
Requests/sec:      0.00
Transfer/sec:       0.00B
"""

# A server that answers 500 and closes the connection without saying so.
FAILED_AND_CLOSED = """\
Running 1s test @ http://127.0.0.1:45998/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   249.25us    1.11ms  15.60ms   94.96%
    Req/Sec    27.16k     6.24k   34.74k    54.55%
  Latency Distribution
     50%   24.00us
     75%   37.00us
     90%  214.00us
     99%    4.06ms
  29696 requests in 1.10s, 1.19MB read
  Socket errors: connect 0, read 29694, write 0, timeout 0
  Non-2xx or 3xx responses: 29696
Requests/sec:  26919.30
Transfer/sec:      1.08MB
"""


def _with_socket_errors(line: str) -> str:
    return HEALTHY.replace("Requests/sec:", f"  Socket errors: {line}\nRequests/sec:")


def test_a_healthy_run_gives_its_rate_and_median_in_ms() -> None:
    assert wrk_figures(HEALTHY, "list c=1") == (5692.71, pytest.approx(0.095))


def test_the_median_is_read_in_whatever_unit_wrk_chose() -> None:
    slow = HEALTHY.replace("50%   95.00us", "50%    1.20s")
    assert wrk_figures(slow, "list c=1")[1] == pytest.approx(1200.0)


def test_a_run_that_completed_no_request_fails_naming_its_phase() -> None:
    with pytest.raises(RuntimeError, match="limit off c=32: wrk completed no request") as raised:
        wrk_figures(NOTHING_COMPLETED, "limit off c=32")
    assert "0 requests in 3.01s" in str(raised.value)


def test_failed_responses_fail_the_run() -> None:
    with pytest.raises(RuntimeError, match="list c=1: 29696 failed responses"):
        wrk_figures(FAILED_AND_CLOSED, "list c=1")


@pytest.mark.parametrize(
    "errors",
    [
        "connect 2, read 0, write 0, timeout 0",
        "connect 0, read 3, write 0, timeout 0",
        "connect 0, read 0, write 1, timeout 0",
        "connect 0, read 0, write 0, timeout 4",
    ],
)
def test_any_socket_error_fails_the_run(errors: str) -> None:
    with pytest.raises(RuntimeError, match=f"list c=32: socket errors \\({errors}\\)") as raised:
        wrk_figures(_with_socket_errors(errors), "list c=32")
    assert "1714 requests in 301.09ms" in str(raised.value)


def test_output_without_figures_fails_the_run() -> None:
    with pytest.raises(RuntimeError, match="warm-up: wrk printed no figures"):
        wrk_figures("unable to connect to 127.0.0.1:9 Connection refused\n", "warm-up")


def test_a_ratio_with_nothing_to_divide_by_is_not_available() -> None:
    assert ratio(3.0, 2.0, ".2f") == "1.50"
    assert ratio(-1.0, 4.0, "+.1%") == "-25.0%"
    assert ratio(3.0, 0.0, ".2f") == "n/a"


@pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("taskset") is None,
    reason="needs wrk and taskset (.ci/run installs them)",
)
def test_a_short_window_against_a_silent_server_fails_naming_its_phase(tmp_path: Path) -> None:
    script = tmp_path / "list.lua"
    lua_script(script, ["{}"], {"Content-Type": "application/json"})
    # Listening, so wrk's connections are accepted by the kernel, but nobody answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/graphql"
        with pytest.raises(RuntimeError, match="silent c=2: wrk completed no request"):
            wrk(url, script, 2, 0.25, phase="silent c=2")
