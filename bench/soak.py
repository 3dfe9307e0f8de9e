"""Soak: mixed traffic for a bounded time, and what the server looks like afterwards.

    .venv/bin/python -m bench.soak [--backend sqlite|postgres] [--minutes 10]
        [--owners 100] [--subscribers 500] [--workers 16] [--steady] [--tracemalloc]

Starts `meimages serve` (SQLite in a temporary folder, or a fresh database on the local
PostgreSQL at 127.0.0.1:5432) and an image-provider stand-in on loopback, gives 100 owners
three photos each, opens 500 subscriptions (graphql-transport-ws, five per owner), then
for the given time runs workers that read the pool, fetch media, upload, swap primary
slots, toggle opt-ins and — a few times a minute — generate. Prints:

* requests by operation and outcome (the goal: no 5xx at all; it exits 1 on any 5xx,
  broken request or inexact subscriber);
* p50 / p99 latency per operation for each minute;
* the server's RSS, open files and sockets: before traffic, after warm-up (minute 2),
  at the end, and after every client has gone (goal: growth < 10 % after warm-up, files
  and sockets back to where they started);
* events: for every subscriber, delivered == committed for its owner (read afresh from
  the log at the end), with nothing twice;
* the in-process caches at the end (`/metrics`: bytes and entries per cache, evictions);
* with `--tracemalloc`, the server runs under `tracemalloc` (one frame per allocation;
  it slows the server down) and every minute (ten times in all in a run longer than ten
  minutes) hands over its allocations by line: the Python heap it traces at each
  snapshot, the lines that grew most since the first snapshot
  after warm-up, and whether the heap plateaus (grew under 1 % of itself in each of the
  last two intervals between snapshots).

Run by hand; bounded in time and counts. Client and server share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import faulthandler
import io
import itertools
import json
import os
import random
import runpy
import signal
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import asyncpg
import httpx
import uvicorn
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection, connect

from bench.short import parse_args, server_spawn
from testbed.graphql import bearer, operation, upload_form
from testbed.images import jpeg
from testbed.server import LiveServer, free_port, start_server, subprocess_spawn
from testbed.wire import TRANSPORT_WS, init, subscribe

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PROVIDER_KEY = "sk-soak"
METRICS_TOKEN = "soak-metrics"
WARM_UP_S = 120
# Where the traced server writes its snapshots (an environment variable of the server).
SNAPSHOT_DIR = "SOAK_TRACEMALLOC_DIR"
TRACED_SERVER = "--traced-server"
TOP_GROWTH = 15
PER_CONNECTION = 5
IMAGE = "__typename ... on MeImage { id publicUrl } ... on Error { code message }"
LIST = "{ meImages { id kind primaryFor usage { aiReference } thumbnailUrl } }"
TOGGLE = (
    "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on)"
    " { __typename } }"
)
SWAP = "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename } }"
DELETE = "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }"
GENERATE = (
    "mutation($input: GenerationInput!) { generateWithReference(input: $input)"
    " { __typename ... on Generation { status } ... on Error { code } } }"
)
EVENTS = (
    "subscription($after: String) { meImageEvents(after: $after) { __typename"
    " ... on MeImageEvent { cursor type } ... on Error { code } } }"
)
# With --steady, each owner's pool stays at this many images (an upload deletes the oldest).
STEADY_POOL = 10
WEIGHTS = {"read": 45, "media": 15, "toggle": 15, "swap": 12, "upload": 12, "generate": 1}


def png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (seed % 256, 80, 160)).save(out, "PNG")
    return out.getvalue()


async def edits(request: Request) -> JSONResponse:
    """The provider stand-in: answers /v1/images/edits with n small PNGs."""
    async with request.form() as form:
        n = int(str(form.get("n") or 1))
    images = [{"b64_json": base64.b64encode(png(i)).decode()} for i in range(n)]
    return JSONResponse({"created": int(time.time()), "data": images})


@asynccontextmanager
async def provider() -> AsyncIterator[str]:
    port = free_port()
    app = Starlette(routes=[Route("/v1/images/edits", edits, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    for _ in range(600):  # bounded: 30 s at most
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def database(backend: str) -> AsyncIterator[dict[str, str]]:
    if backend == "sqlite":
        yield {}
        return
    name = f"meimages_soak_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield {"MEIMAGES_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + name}
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def process_figures(pid: int) -> dict[str, int]:
    """RSS, open files and open sockets of the server process."""
    fds = os.listdir(f"/proc/{pid}/fd")
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return {"rss": rss, "files": len(fds) - sockets, "sockets": sockets}


@dataclass
class Owner:
    id: str
    images: list[dict[str, Any]] = field(default_factory=list)
    start_cursor: str = ""


@dataclass
class Subscriber:
    owner: Owner
    events: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Soak:
    server: LiveServer
    http: httpx.AsyncClient
    owners: list[Owner]
    end: float
    began: float = field(default_factory=time.monotonic)
    steady: bool = False
    # Operations the workers take, one each, before drawing them at random (a quick run
    # takes every one, however few requests it makes).
    first: list[str] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    latency: dict[tuple[int, str], list[float]] = field(default_factory=lambda: defaultdict(list))

    async def gql(self, owner: Owner, query: str, variables: dict[str, Any]) -> httpx.Response:
        return await self.http.post(
            self.server.graphql_url,
            json=operation(query, variables),
            headers=bearer(self.server.token(owner.id)),
        )

    async def upload(self, owner: Owner, seed: int) -> httpx.Response:
        headers = bearer(self.server.token(owner.id), preflight=True)
        response = await self.http.post(
            self.server.graphql_url, headers=headers, **upload_form(jpeg(seed), fields=IMAGE)
        )
        if response.status_code == 200 and "errors" not in response.json():
            made = response.json()["data"]["uploadMeImage"]
            if made.get("__typename") == "MeImage":
                owner.images.append(made)
        return response

    async def call(self, op: str, owner: Owner, n: int) -> httpx.Response:
        image = random.choice(owner.images)
        if op == "read":
            return await self.gql(owner, LIST, {})
        if op == "media":
            # A media URL is absolute (signed for the server's public address).
            return await self.http.get(urljoin(self.server.url + "/", image["publicUrl"]))
        if op == "toggle":
            return await self.gql(owner, TOGGLE, {"id": image["id"], "on": n % 2 == 0})
        if op == "swap":
            return await self.gql(owner, SWAP, {"id": image["id"]})
        if op == "upload":
            response = await self.upload(owner, random.randrange(1 << 30))
            if self.steady and len(owner.images) > STEADY_POOL:
                # Steady state: as many images go as come, so memory can settle. The first
                # image stays: it is the opted-in reference the generations use.
                oldest = owner.images.pop(1)
                await self.gql(owner, DELETE, {"id": oldest["id"]})
            return response
        prompt = {"prompt": "me in a soak test", "referenceImageIds": [owner.images[0]["id"]]}
        return await self.gql(owner, GENERATE, {"input": {**prompt, "quality": "LOW"}})

    async def worker(self) -> None:
        ops, weights = list(WEIGHTS), list(WEIGHTS.values())
        n = 0
        while time.monotonic() < self.end:
            n += 1
            op = self.first.pop() if self.first else random.choices(ops, weights)[0]
            owner = random.choice(self.owners)
            started = time.monotonic()
            try:
                response = await self.call(op, owner, n)
                outcome = f"{response.status_code // 100}xx"
                if response.status_code == 200 and "json" in response.headers.get(
                    "content-type", ""
                ):
                    body = response.json()
                    if body.get("errors"):
                        codes = {
                            (e.get("extensions") or {}).get("code") or e.get("message", "")[:60]
                            for e in body["errors"]
                        }
                        outcome = "error " + ",".join(sorted(map(str, codes)))
            except httpx.HTTPError as error:
                outcome = f"transport {type(error).__name__}"
            minute = int((started - self.began) // 60)
            self.latency[(minute, op)].append(time.monotonic() - started)
            self.outcomes[(op, outcome)] += 1


async def listen(
    server: LiveServer, subscribers: list[Subscriber], stop: asyncio.Event, poll_s: float
) -> None:
    """One connection carrying several subscribers' subscriptions (ids 0..k-1), read until
    `stop` is set (looked at every `poll_s` seconds without a message)."""
    async with connect(server.ws_url, subprotocols=[TRANSPORT_WS], open_timeout=60) as ws:
        owner = subscribers[0].owner
        assert (await init(ws, server.token(owner.id, ttl_s=7200)))["type"] == "connection_ack"
        for index, sub in enumerate(subscribers):
            await subscribe(ws, str(index), EVENTS, {"after": sub.owner.start_cursor})
        await _collect(ws, subscribers, stop, poll_s)


async def _collect(
    ws: ClientConnection, subscribers: list[Subscriber], stop: asyncio.Event, poll_s: float
) -> None:
    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), poll_s)
        except TimeoutError:
            continue
        message = json.loads(raw)
        sub = subscribers[int(message.get("id", 0))]
        if message["type"] != "next":
            sub.errors.append(message["type"])
            continue
        item = message["payload"].get("data", {}).get("meImageEvents") or {}
        if item.get("__typename") == "MeImageEvent":
            sub.events.append(item["cursor"])
        else:
            sub.errors.append(json.dumps(message["payload"])[:200])


async def replay(server: LiveServer, owner: Owner, until: str) -> list[str]:
    cursors: list[str] = []
    async with connect(server.ws_url, subprotocols=[TRANSPORT_WS], open_timeout=60) as ws:
        assert (await init(ws, server.token(owner.id)))["type"] == "connection_ack"
        await subscribe(ws, "r", EVENTS, {"after": owner.start_cursor})
        while until != owner.start_cursor and (not cursors or cursors[-1] != until):
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            cursors.append(message["payload"]["data"]["meImageEvents"]["cursor"])
    return cursors


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def soak(args: argparse.Namespace) -> None:
    async with provider() as provider_url, database(args.backend) as db_settings:
        with tempfile.TemporaryDirectory(prefix="meimages-soak-") as tmp:
            settings = {
                **db_settings,
                "MEIMAGES_OPENAI_BASE_URL": provider_url,
                "MEIMAGES_OPENAI_API_KEY": PROVIDER_KEY,
                "MEIMAGES_INITIAL_CREDITS": "1000000",
                "MEIMAGES_METRICS_TOKEN": METRICS_TOKEN,
            }
            traces = Path(tmp) / "tracemalloc"
            if args.tracemalloc:
                traces.mkdir()
                prefix = [sys.executable, "-X", "tracemalloc=1", "-m", "bench.soak", TRACED_SERVER]
                server = start_server(
                    Path(tmp) / "data",
                    settings,
                    env={SNAPSHOT_DIR: str(traces)},
                    spawn=subprocess_spawn(prefix),
                )
            else:
                server = start_server(Path(tmp) / "data", settings, spawn=server_spawn(args.quick))
            try:
                await run(server, args, traces if args.tracemalloc else None)
            finally:
                server.stop()


async def run(server: LiveServer, args: argparse.Namespace, traces: Path | None) -> None:
    owners = [Owner(f"soak-{i:03d}") for i in range(args.owners)]
    limits = httpx.Limits(max_connections=args.workers + 8)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        setup = Soak(server, http, owners, end=0)
        for owner in owners:
            for seed in range(3):
                await setup.upload(owner, hash((owner.id, seed)) & 0xFFFFFF)
            await setup.gql(owner, TOGGLE, {"id": owner.images[0]["id"], "on": True})
            cursor = await setup.gql(owner, "{ meImageEventCursor }", {})
            owner.start_cursor = cursor.json()["data"]["meImageEventCursor"]
        figures = {"before traffic": process_figures(server.pid)}

        subscribers = [Subscriber(owners[i % len(owners)]) for i in range(args.subscribers)]
        stop = asyncio.Event()
        by_owner: dict[str, list[Subscriber]] = defaultdict(list)
        for sub in subscribers:
            by_owner[sub.owner.id].append(sub)
        groups = [
            group[i : i + PER_CONNECTION]
            for group in by_owner.values()
            for i in range(0, len(group), PER_CONNECTION)
        ]
        # A quick run's listeners notice the end sooner (its few waits are not weighed).
        poll_s = 0.1 if args.quick else 1.0
        listeners = [asyncio.create_task(listen(server, g, stop, poll_s)) for g in groups]

        pauses = [(0.0, await gc_figures(http, server))]  # set-up's own passes left out
        began = time.monotonic()
        soak_run = Soak(
            server,
            http,
            owners,
            end=began + args.minutes * 60,
            began=began,
            steady=args.steady,
            first=list(WEIGHTS) if args.quick else [],
        )
        workers = [asyncio.create_task(soak_run.worker()) for _ in range(args.workers)]
        samples: list[tuple[float, dict[str, int]]] = []
        heap = HeapSnapshots(server.pid, traces, every_s=max(60.0, args.minutes * 60 / SNAPSHOTS))
        while time.monotonic() < soak_run.end:
            await asyncio.sleep(min(15.0, max(0.0, soak_run.end - time.monotonic())))
            samples.append((time.monotonic() - began, process_figures(server.pid)))
            pauses.append((time.monotonic() - began, await gc_figures(http, server)))
            await heap.maybe_take(time.monotonic() - began)
        await asyncio.gather(*workers)
        figures["end of traffic"] = process_figures(server.pid)
        await heap.take(time.monotonic() - began)
        caches = await cache_figures(http, server)
        warm = next((f for t, f in samples if t >= 120), samples[0][1])
        figures["after warm-up (2 min)"] = warm

        # Every subscriber must have every committed event of its owner, once, in order.
        finals = {}
        for owner in owners:
            response = await soak_run.gql(owner, "{ meImageEventCursor }", {})
            finals[owner.id] = response.json()["data"]["meImageEventCursor"]
        logged = {o.id: await replay(server, o, finals[o.id]) for o in owners}
        for _ in range(240):  # subscribers catch up; bounded: 2 min at most
            if all(s.events[-1:] == logged[s.owner.id][-1:] for s in subscribers):
                break
            await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*listeners, return_exceptions=True)
    # Let the server notice the closed sockets before counting (a quick run, whose
    # figures are not judged, waits less).
    await asyncio.sleep(0.2 if args.quick else 2)
    figures["after clients left"] = process_figures(server.pid)
    report_gc(pauses)
    report(soak_run, subscribers, logged, figures, samples, args, heap, caches)


def report(
    soak_run: Soak,
    subscribers: list[Subscriber],
    logged: dict[str, list[str]],
    figures: dict[str, dict[str, int]],
    samples: list[tuple[float, dict[str, int]]],
    args: argparse.Namespace,
    heap: HeapSnapshots,
    caches: str,
) -> None:
    print(f"\n# soak: {args.backend}{' (steady pools)' if args.steady else ''}, {args.minutes} min, {args.owners} owners, "
          f"{args.subscribers} subscribers, {args.workers} workers, load {os.getloadavg()}")  # fmt: skip
    print("\n| operation | outcome | count |\n|---|---|---|")
    for (op, outcome), count in sorted(soak_run.outcomes.items()):
        print(f"| {op} | {outcome} | {count} |")
    five = sum(c for (_, o), c in soak_run.outcomes.items() if o == "5xx")
    print(f"\n5xx: {five}")
    ops = sorted({op for _, op in soak_run.latency})
    minutes = sorted({m for m, _ in soak_run.latency})
    print("\n| minute | " + " | ".join(f"{op} p50/p99 ms" for op in ops) + " |")
    print("|---|" + "---|" * len(ops))
    for minute in minutes:
        cells = []
        for op in ops:
            values = soak_run.latency.get((minute, op), [])
            cells.append(
                f"{percentile(values, 0.5):.0f}/{percentile(values, 0.99):.0f}" if values else "-"
            )
        print(f"| {minute + 1} | " + " | ".join(cells) + " |")
    print("\n| moment | RSS MiB | open files | sockets |\n|---|---|---|---|")
    for moment, f in figures.items():
        print(f"| {moment} | {f['rss'] / 2**20:.1f} | {f['files']} | {f['sockets']} |")
    warm, end = figures["after warm-up (2 min)"]["rss"], figures["end of traffic"]["rss"]
    print(f"\nRSS growth after warm-up: {100 * (end - warm) / warm:+.1f} %")
    print("RSS every sample (MiB): " + ", ".join(f"{f['rss'] / 2**20:.0f}" for _, f in samples))
    print(caches)
    heap.report()
    exact = sum(s.events == logged[s.owner.id] for s in subscribers)
    committed = sum(len(v) for v in logged.values())
    delivered = sum(len(s.events) for s in subscribers)
    errors = Counter(e for s in subscribers for e in s.errors)
    print(f"\nevents committed: {committed} (over {len(logged)} owners); delivered: {delivered} "
          f"to {len(subscribers)} subscribers; exact (all, once, in order): {exact}/{len(subscribers)}; "
          f"stream errors: {dict(errors) or 0}")  # fmt: skip
    broken = five + sum(c for (_, o), c in soak_run.outcomes.items() if o.startswith("transport"))
    if broken or exact != len(subscribers):
        raise SystemExit(
            f"soak failed: {broken} requests answered 5xx or broke off, "
            f"{len(subscribers) - exact} subscribers did not get their events exactly"
        )


# Heap snapshots of a traced server ------------------------------------------------


# Snapshots of a traced server in one run: each takes a forked copy a while to sum up (minutes
# on a busy machine, for a large heap), so a long run takes them further apart.
SNAPSHOTS = 10


class HeapSnapshots:
    """The traced server's allocations by line, every minute or, in a run longer than
    `SNAPSHOTS` minutes, `SNAPSHOTS` times in all (see `traced_server`)."""

    def __init__(self, pid: int, folder: Path | None, *, every_s: float = 60.0) -> None:
        self.pid = pid
        self.folder = folder
        self.every_s = every_s
        # (seconds into the run, Python heap traced, {"file:line": bytes})
        self.taken: list[tuple[float, int, dict[str, int]]] = []

    async def maybe_take(self, at: float) -> None:
        if self.folder is not None and at >= self.every_s * (len(self.taken) + 1):
            await self.take(at)

    async def take(self, at: float) -> None:
        if self.folder is None:
            return
        path = self.folder / f"{len(self.taken)}.json"
        os.kill(self.pid, signal.SIGUSR1)
        for _ in range(3000):  # bounded: 5 min at most (a snapshot of a large heap is slow)
            if path.exists():
                break
            await asyncio.sleep(0.1)
        else:
            raise SystemExit(f"the traced server wrote no snapshot {path.name}")
        taken = json.loads(path.read_text())
        self.taken.append((at, taken["traced"], taken["lines"]))

    def report(self) -> None:
        if not self.taken:
            return
        print("\n| minute | Python heap traced MiB |\n|---|---|")
        for at, traced, _ in self.taken:
            print(f"| {at / 60:.1f} | {traced / 2**20:.1f} |")
        base = next((t for t in self.taken if t[0] >= WARM_UP_S), self.taken[0])
        end = self.taken[-1]
        growth = {
            line: end[2].get(line, 0) - base[2].get(line, 0)
            for line in end[2].keys() | base[2].keys()
        }
        top = sorted(growth.items(), key=lambda item: -item[1])[:TOP_GROWTH]
        print(f"\nTop growth by line, minute {end[0] / 60:.1f} against minute {base[0] / 60:.1f} "
              f"(first snapshot after warm-up):\n\n| line | KiB |\n|---|---|")  # fmt: skip
        for line, grew in top:
            print(f"| {line} | {grew / 1024:+.1f} |")
        after = [t for t in self.taken if t[0] >= base[0]]
        steps = [b[1] - a[1] for a, b in itertools.pairwise(after)][-2:]
        flat = len(steps) == 2 and all(step < 0.01 * end[1] for step in steps)
        verdict = "plateaus" if flat else "still grows" if len(steps) == 2 else "too short to say"
        print(f"\nPython heap after warm-up: {base[1] / 2**20:.1f} -> {end[1] / 2**20:.1f} MiB "
              f"({100 * (end[1] - base[1]) / base[1]:+.1f} %); between the last three snapshots: "
              f"{', '.join(f'{s / 1024:+.0f} KiB' for s in steps) or '-'}; memory {verdict}")  # fmt: skip


def traced_server(argv: list[str]) -> None:
    """Run `meimages ARGS` (argv: the script, then its arguments) in this process, and on
    SIGUSR1 write the traced allocations by line to the next numbered file of the folder.

    The snapshot is taken and summed up in a forked copy of the process: walking a large
    heap's traces takes seconds, which the server itself must not stand still for.
    """
    folder = Path(os.environ[SNAPSHOT_DIR])
    written = 0
    children: list[int] = []

    def dump(*_: object) -> None:
        nonlocal written
        for child in list(children):  # reap the earlier ones that are done
            if os.waitpid(child, os.WNOHANG)[0]:
                children.remove(child)
        target = folder / f"{written}.json"
        written += 1
        pid = os.fork()
        if pid:
            children.append(pid)
            return
        signal.alarm(600)  # a copy that hangs (a lock held at the fork) ends by itself
        try:
            write_snapshot(target)
        finally:
            os._exit(0)

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")


def write_snapshot(target: Path) -> None:
    traced = tracemalloc.get_traced_memory()[0]
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    tracemalloc.stop()  # the summing up below need not be traced
    lines = {}
    for stat in snapshot.statistics("lineno"):
        frame = stat.traceback[0]
        lines[f"{frame.filename}:{frame.lineno}"] = stat.size
    temporary = target.with_suffix(".part")
    temporary.write_text(json.dumps({"traced": traced, "lines": lines}))
    temporary.rename(target)  # whole or absent: the soak reads it once it exists


SLOW_PAUSE = "0.05"  # a bucket bound of meimages_gc_pause_seconds


async def gc_figures(http: httpx.AsyncClient, server: LiveServer) -> dict[str, float]:
    """The server's GC pauses so far (`/metrics`): full passes and their seconds, and the
    passes of any generation longer than `SLOW_PAUSE` seconds."""
    response = await http.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    response.raise_for_status()
    figures = {
        "full passes": 0.0,
        "full seconds": 0.0,
        "young passes": 0.0,
        "young seconds": 0.0,
        "slow passes": 0.0,
    }
    for family in text_string_to_metric_families(response.text):
        if family.name != "meimages_gc_pause_seconds":
            continue
        for sample in family.samples:
            kind = "full" if sample.labels["generation"] == "2" else "young"
            if sample.name.endswith("_count"):
                figures["slow passes"] += sample.value
                figures[f"{kind} passes"] += sample.value
            elif sample.name.endswith("_sum"):
                figures[f"{kind} seconds"] += sample.value
            elif sample.name.endswith("_bucket") and sample.labels["le"] == SLOW_PAUSE:
                figures["slow passes"] -= sample.value
    return figures


def report_gc(pauses: list[tuple[float, dict[str, float]]]) -> None:
    """Per minute of traffic: the full and young collections and the long passes the
    server made."""
    print(f"\n| minute | full GC passes | their seconds | young passes (generations 0, 1) "
          f"| their seconds | passes > {float(SLOW_PAUSE) * 1000:.0f} ms |"
          "\n|---|---|---|---|---|---|")  # fmt: skip
    previous = pauses[0][1]
    for minute in range(int(pauses[-1][0] // 60) + 1):
        inside = [f for t, f in pauses if t < (minute + 1) * 60]
        if not inside:
            continue
        last = inside[-1]
        delta = {k: last[k] - previous[k] for k in last}
        print(f"| {minute + 1} | {delta['full passes']:.0f} | {delta['full seconds']:.3f} "
              f"| {delta['young passes']:.0f} | {delta['young seconds']:.3f} "
              f"| {delta['slow passes']:.0f} |")  # fmt: skip
        previous = last


async def cache_figures(http: httpx.AsyncClient, server: LiveServer) -> str:
    """The server's caches as `/metrics` reports them, as a table."""
    response = await http.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    response.raise_for_status()
    rows: dict[str, dict[str, float]] = defaultdict(dict)
    budget = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            cache = sample.labels.get("cache")
            if sample.name == "meimages_cache_budget_bytes":
                budget = sample.value
            elif cache is not None and sample.name.startswith("meimages_cache_"):
                rows[cache][sample.name.removeprefix("meimages_cache_")] = sample.value
                if "sizing" in sample.labels:
                    rows[cache]["sizing"] = sample.labels["sizing"]  # type: ignore[assignment]
    used = sum(row.get("bytes", 0) for row in rows.values())
    lines = [f"\nCaches at the end: {used / 2**20:.2f} of {budget / 2**20:.0f} MiB budget",
             "\n| cache | KiB | sizing | entries | evictions |\n|---|---|---|---|---|"]  # fmt: skip
    for cache, row in sorted(rows.items()):
        lines.append(f"| {cache} | {row.get('bytes', 0) / 1024:.1f} | {row.get('sizing', '')} "
                     f"| {row.get('entries', 0):.0f} | {row.get('evictions_total', 0):.0f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    faulthandler.register(signal.SIGUSR2)  # `kill -USR2` shows where a long run is
    if sys.argv[1:2] == [TRACED_SERVER]:
        traced_server(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--owners", type=int, default=100)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument(
        "--steady", action="store_true", help="keep every pool at 10 images (delete as many)"
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace the server's allocations; report heap growth by line (every minute, ten times in a long run)",
    )
    asyncio.run(soak(parse_args(parser, minutes=0.02, owners=5, subscribers=10, workers=4)))


if __name__ == "__main__":
    main()
