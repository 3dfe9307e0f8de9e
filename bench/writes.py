"""Write throughput: `setPrimary` through the whole server next to its SQLite floors.

    .venv/bin/python -m bench.writes [--seconds 5] [--runs 3]

Starts `meimages serve` (SQLite in a temporary folder) pinned to core 0, uploads two
images of one owner, and has them take the face-ref slot in turn: every request is a
real swap (the holder loses the slot, the other image claims it, two events, the owner's
data version bumped). The load generator (keep-alive HTTP/1.1 over raw sockets, so its
own cost stays small) runs on core 1 at c=1 and c=32. Beside each rate, the server's CPU
time per request (user and system, all its threads, read from /proc): what a swap costs
the server, whatever the machine's other load.

In the same run, on a copy of the server's database with the same rows, the floors do
the same statements per swap in one transaction (BEGIN IMMEDIATE; bump the data
version; clear the holder; claim the slot; append two events; COMMIT):
* aiosqlite: one connection, 32 tasks queued on it (SQLite's write lock is global);
* sqlite3: the same statements in a plain loop, no event loop, no thread hop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import httpx

from bench.list_query import ratio
from bench.short import parse_args, server_spawn
from testbed.graphql import bearer, upload_form, upload_result
from testbed.images import jpeg
from testbed.server import LiveServer, start_server

SET_PRIMARY = (
    "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF)"
    " { __typename ... on MeImage { id primaryFor } } }"
)
OWNER = "bench-writer"

# One swap, as the floors run it: the statements the server needs at the least.
BUMP = "UPDATE owner SET data_version = data_version + 1 WHERE id = ?"
CLEAR = (
    "UPDATE me_image SET primary_for = NULL, updated_at = ? WHERE owner_id = ? AND space_id = ?"
    " AND primary_for = ? AND deleted_at IS NULL AND id != ? RETURNING id"
)
CLAIM = (
    "UPDATE me_image SET primary_for = ?, updated_at = ? WHERE id = ? AND owner_id = ?"
    " AND space_id = ? AND deleted_at IS NULL RETURNING id"
)
EVENT = (
    "INSERT INTO me_image_event (owner_id, space_id, type, image_id, payload, created_at, image)"
    " VALUES (?, ?, 'MeImagePrimaryChanged', ?, ?, ?, ?)"
)


def swap_statements(image_ids: Sequence[str], n: int) -> list[tuple[str, tuple[Any, ...]]]:
    new, old = image_ids[n % 2], image_ids[(n + 1) % 2]
    now = "2026-01-01 00:00:00.000000"
    gained = json.dumps({"slot": "face-ref", "previous_slot": None})
    lost = json.dumps({"slot": None, "previous_slot": "face-ref"})
    return [
        (BUMP, (OWNER,)),
        (CLEAR, (now, OWNER, "personal", "face-ref", new)),
        (CLAIM, ("face-ref", now, new, OWNER, "personal")),
        (EVENT, (OWNER, "personal", old, lost, now, None)),
        (EVENT, (OWNER, "personal", new, gained, now, None)),
    ]


async def aiosqlite_floor(path: Path, ids: Sequence[str], seconds: float, c: int) -> float:
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    lock = asyncio.Lock()
    done = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with lock:
                await db.execute("BEGIN IMMEDIATE")
                for sql, params in swap_statements(ids, done):
                    await (await db.execute(sql, params)).fetchall()
                await db.execute("COMMIT")
                done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(c)))
    elapsed = time.monotonic() - started
    await db.close()
    return done / elapsed


def sqlite3_floor(path: Path, ids: Sequence[str], seconds: float) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    done = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        db.execute("BEGIN IMMEDIATE")
        for sql, params in swap_statements(ids, done):
            db.execute(sql, params).fetchall()
        db.execute("COMMIT")
        done += 1
    elapsed = time.monotonic() - started
    db.close()
    return done / elapsed


class Load:
    """c keep-alive connections, each sending the next request once the last is answered."""

    def __init__(
        self, name: str, port: int, bodies: Sequence[bytes], headers: dict[str, str]
    ) -> None:
        self.name = name
        self.port = port
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.requests = [
            (
                f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"{head}Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
            for body in bodies
        ]
        self.latencies: list[float] = []
        self.failures = 0

    async def _connection(self, deadline: float, check: Callable[[bytes], bool]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        n = 0
        try:
            # One request at least, however late the connection opened (a busy machine).
            while n == 0 or time.monotonic() < deadline:
                started = time.monotonic()
                writer.write(self.requests[n % len(self.requests)])
                n += 1
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.latencies.append(time.monotonic() - started)
                if b" 200 " not in status or not check(body):
                    self.failures += 1
        finally:
            writer.close()

    async def run(self, c: int, seconds: float, check: Callable[[bytes], bool]) -> float:
        self.latencies.clear()
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        await asyncio.gather(*(self._connection(deadline, check) for _ in range(c)))
        if not self.latencies:  # the figures (a rate, a median) need one answer at least
            raise RuntimeError(f"{self.name}: no request answered within {seconds} s at c={c}")
        return len(self.latencies) / (time.monotonic() - started)


def claimed(body: bytes) -> bool:
    slot: str | None = json.loads(body)["data"]["setPrimary"]["primaryFor"]
    return slot == "FACE_REF"


def prepare(server: LiveServer) -> list[str]:
    ids = []
    for i in range(2):
        form = upload_form(
            jpeg(i, size=(320, 240)),
            fields="__typename ... on MeImage { id }",
            input={"label": f"photo {i}", "kind": "FACE"},
            filename="a.jpg",
        )
        headers = bearer(server.token(OWNER), preflight=True)
        response = httpx.post(server.graphql_url, headers=headers, timeout=60, **form)
        ids.append(str(upload_result(response)["id"]))
    return ids


def floor_copy(server: LiveServer, target: Path) -> Path:
    """The server's database with its rows, copied through SQLite's backup API."""
    source = sqlite3.connect(server.data_dir / "meimages.db")
    copy = sqlite3.connect(target)
    source.backup(copy)
    source.close()
    copy.close()
    return target


def served(
    server: LiveServer, load: Load, c: int, seconds: float, check: Callable[[bytes], bool]
) -> tuple[float, float]:
    """(requests/s, the server's CPU µs per request) of one run of `load`."""
    before = server.cpu_seconds()
    rate = asyncio.run(load.run(c, seconds, check))
    return rate, (server.cpu_seconds() - before) * 1e6 / len(load.latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parse_args(parser, seconds=0.25, runs=1)
    # The load generator and floors on core 1; the server on core 0.
    os.sched_setaffinity(0, {1})
    tmp = Path(tempfile.mkdtemp(prefix="meimages-writes-"))
    servers: list[LiveServer] = []
    try:
        # The per-owner rate limit would answer the load with 429s: it is measured elsewhere
        # (bench.limits), so it is off here.
        server = start_server(
            tmp / "server",
            {"MEIMAGES_RATE_REQUESTS_PER_SECOND": "0"},
            spawn=server_spawn(args.quick, "0"),
        )
        servers.append(server)
        ids = prepare(server)
        floor_db = floor_copy(server, tmp / "floor.db")
        headers = {"Authorization": f"Bearer {server.token(OWNER)}"}
        bodies = [json.dumps({"query": SET_PRIMARY, "variables": {"id": i}}).encode() for i in ids]
        load = Load("setPrimary over HTTP", server.port, bodies, headers)
        rows: list[tuple[str, int, float, float | None, float | None]] = []
        # What the same server answers when no database is involved: the ceiling the
        # HTTP, auth and GraphQL layers leave for any mutation.
        ceiling = Load(
            "cached __typename",
            server.port,
            [json.dumps({"query": "{ __typename }"}).encode()],
            headers,
        )
        # Warm-ups of a second each; a quick run's figures are not judged, so it has none.
        if not args.quick:
            asyncio.run(ceiling.run(32, 1, lambda body: b"Query" in body))
        ceiling_runs = [
            served(server, ceiling, 32, args.seconds, lambda body: b"Query" in body)
            for _ in range(args.runs)
        ]
        for c in (1, 32):
            if not args.quick:
                asyncio.run(load.run(c, 1, claimed))  # warm-up
            runs = []
            p50s = []
            for _ in range(args.runs):
                runs.append(served(server, load, c, args.seconds, claimed))
                p50s.append(statistics.median(load.latencies) * 1000)
            if load.failures:
                raise RuntimeError(f"{load.failures} requests failed")
            rows.append(
                (
                    f"setPrimary over HTTP, c={c}",
                    c,
                    statistics.median(rate for rate, _ in runs),
                    statistics.median(p50s),
                    statistics.median(cpu for _, cpu in runs),
                )
            )
        floor_runs = [
            asyncio.run(aiosqlite_floor(floor_db, ids, args.seconds, 32)) for _ in range(args.runs)
        ]
        rows.append(
            ("aiosqlite floor, same statements", 32, statistics.median(floor_runs), None, None)
        )
        sync_runs = [sqlite3_floor(floor_db, ids, args.seconds) for _ in range(args.runs)]
        rows.append(("sqlite3 floor, same statements", 1, statistics.median(sync_runs), None, None))
        rows.append(
            (
                "HTTP + auth only (cached __typename)",
                32,
                statistics.median(rate for rate, _ in ceiling_runs),
                None,
                statistics.median(cpu for _, cpu in ceiling_runs),
            )
        )
        aio = rows[2][2]
        print(
            f"\n{'operation':36} {'conc':>4} {'swaps/s':>9} {'p50 ms':>8} {'vs aiosqlite':>13}"
            f" {'server CPU us':>14}"
        )
        for name, c, rate, p50, cpu in rows:
            print(
                f"{name:36} {c:>4} {rate:>9.0f} {'' if p50 is None else f'{p50:.2f}':>8}"
                f" {ratio(rate, aio, '.2f'):>13} {'' if cpu is None else f'{cpu:.0f}':>14}"
            )
        print(
            "\n(server CPU us: the server process's user and system time per request answered,"
            " all its threads)"
        )
        print(
            f"\n(medians of {args.runs} runs x {args.seconds:g} s; server on core 0, load and"
            f" floors on core 1; load average {os.getloadavg()[0]:.2f})"
        )
    finally:
        for live in servers:
            live.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
