"""Crash test: SIGKILL a real server again and again in the middle of uploads.

Each round starts `meimages serve` (with the garbage collector running every second and
no grace period, so it races the uploads as hard as it can) and keeps several uploads
in flight over REST and GraphQL. The kill is decided by what happened, never by a clock:

1. wait until this round's server has acknowledged a chosen number of uploads (1-3);
2. after a kill that left orphans, also until this server's collector has removed them
   (read after each acknowledged upload): the collector has then run while uploads
   were in flight, however fast or slow the machine;
3. freeze it with SIGSTOP and read its database and blob store directly; if an upload is
   mid-write (keys registered but not linked to a row yet, with or without their bytes,
   or a half-written temp file) in a way no earlier round was killed in, SIGKILL it
   right there, in exactly that state;
4. otherwise let it run to its next acknowledged upload and look again, at most
   PROBES times; after the last look it is killed anyway, in whatever state it is in.

The first round kills a fresh installation, each later one a server restarted over the
leftovers of a kill; every kind of mid-write state a look finds gets a kill of its own.
A slow machine only changes how many uploads are in flight at each look, never the
verdict. After every kill (and at every look) nothing may be inconsistent: no row points
at a missing blob, no blob is unknown to the registry the collector works from, no
reference dangles. At the end every upload that got a success answer must read back
byte-identical to what the pipeline makes of its file, and every stored object a row
names must open under its owner's key (`sealing_check`). The same loop runs on SQLite +
local folder, PostgreSQL + local folder and PostgreSQL + S3 (moto on loopback).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from resolvers.media import sanitising
from resolvers.stores import Limits
from testbed.forkserver import ForkServer
from testbed.graphql import PREFLIGHT, upload_form
from testbed.server import LiveServer, start_server
from tests.crash.backends import BACKENDS, Backend, open_backend, violations
from tests.crash.sealing_check import unopenable_objects

# Rounds: a kill of a fresh installation, then kills of servers restarted over a kill's
# leftovers. Each round looks up to PROBES times, about 20 looks in all: each a chance
# to find, and kill in, a kind of mid-write state no earlier round was killed in.
KILLS = 6
IN_FLIGHT = 6
# Acknowledged uploads to wait for before the first look, per round.
MIN_ACKS, MAX_ACKS = 1, 3
# Looks (SIGSTOP + read the state) per round before the kill happens regardless.
PROBES = 4
# Only ever the share of uploads that reuse a file already acknowledged (dedupe path).
REUSE = 0.15
# Safety nets against a hang, not verdicts about speed: a healthy server answers an
# upload or its health check within seconds even on a saturated machine.
PROGRESS_TIMEOUT_S = 300
START_TIMEOUT_S = 300
UPLOAD_FIELDS = (
    "__typename ... on MeImage { id mediaId storagePath publicUrl } ... on Error { code }"
)
GC_EVERY_SECOND = {"MEIMAGES_GC_INTERVAL": "1", "MEIMAGES_GC_GRACE": "0"}
# As many uploads as the machine allows: while a round waits for the collector, a fast
# machine acknowledges more than the default limit of one owner's uploads a minute.
UNLIMITED = {"MEIMAGES_RATE_UPLOADS_PER_MINUTE": "0"}


class UploadRefused(Exception):
    """A live server answered an upload with something other than success."""


@dataclass
class Upload:
    source: bytes
    via: str
    media_id: str
    storage_path: str
    public_url: str
    sha256: str | None = None
    image_id: str | None = None


def make_source(index: int) -> bytes:
    """A distinct small photo (PNG or JPEG) per index, the same on every run."""
    rnd = random.Random(index)
    w, h = rnd.randrange(120, 260), rnd.randrange(100, 220)
    img = Image.effect_noise((w, h), 30 + index % 50).convert("RGB")
    img.paste((rnd.randrange(256), rnd.randrange(256), index % 256), (0, 0, w // 3, h // 3))
    out = io.BytesIO()
    if index % 2:
        img.save(out, "PNG")
    else:
        img.save(out, "JPEG", quality=88)
    return out.getvalue()


async def upload_once(client: httpx.AsyncClient, token: str, data: bytes, via: str) -> Upload:
    auth = {"Authorization": f"Bearer {token}"}
    if via == "rest":
        response = await client.post(
            "/api/v1/profile/me-images/upload",
            files={"file": ("p.bin", data, "application/octet-stream")},
            headers=auth,
        )
        if response.status_code != 201:
            raise UploadRefused(f"REST {response.status_code}: {response.text[:200]}")
        body = response.json()
        return Upload(
            data, via, body["mediaId"], body["storagePath"], body["publicUrl"], body["sha256"]
        )
    form = upload_form(
        data,
        fields=UPLOAD_FIELDS,
        input={"kind": "FACE"},
        filename="p.bin",
        content_type="application/octet-stream",
    )
    response = await client.post("/graphql", headers={**auth, **PREFLIGHT}, **form)
    if response.status_code != 200:
        raise UploadRefused(f"GraphQL {response.status_code}: {response.text[:200]}")
    result = (response.json().get("data") or {}).get("uploadMeImage") or {}
    if result.get("__typename") != "MeImage":
        raise UploadRefused(f"GraphQL answered {response.text[:200]}")
    return Upload(
        data,
        via,
        result["mediaId"],
        result["storagePath"],
        result["publicUrl"],
        image_id=result["id"],
    )


@dataclass
class Run:
    """Everything one crash run has seen, across rounds."""

    rnd: random.Random
    token: str = ""
    next_source: int = 0
    acknowledged: list[Upload] = field(default_factory=list)
    attempts: int = 0
    cut_off: int = 0
    # Uploads a live (not yet killed) server refused: must stay empty.
    refused: list[str] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    looks: int = 0
    # Rounds in which the collector removed a killed server's leftovers under uploads.
    collected: int = 0
    # Seconds spent starting servers (reported).
    startup_s: float = 0.0
    violations: list[str] = field(default_factory=list)
    # Per round: acknowledged uploads so far, and whether the kill is under way.
    round_acks: int = 0
    stopping: bool = False
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)

    def pick_source(self) -> bytes:
        if self.acknowledged and self.rnd.random() < REUSE:
            return self.rnd.choice(self.acknowledged).source
        self.next_source += 1
        return make_source(self.next_source)

    async def worker(self, url: str) -> None:
        # Generous client timeout: a frozen or busy server is waited for, not given up on.
        async with httpx.AsyncClient(base_url=url, timeout=PROGRESS_TIMEOUT_S) as client:
            while not self.stopping:
                data = self.pick_source()
                via = self.rnd.choice(("rest", "graphql"))
                self.attempts += 1
                try:
                    upload = await upload_once(client, self.token, data, via)
                except (httpx.HTTPError, UploadRefused, ValueError) as exc:
                    if self.stopping:
                        self.cut_off += 1
                        return
                    self.refused.append(f"{via}: {exc!r}"[:300])
                    assert len(self.refused) < 20, self.refused
                    continue
                # A success answer counts even if it arrives after the kill: the server
                # said the upload is stored, so it must be.
                self.acknowledged.append(upload)
                self.round_acks += 1
                async with self.progress:
                    self.progress.notify_all()

    async def wait_for_acks(self, count: int, workers: list[asyncio.Task[None]]) -> None:
        async def reached() -> None:
            async with self.progress:
                await self.progress.wait_for(
                    lambda: self.round_acks >= count or any(w.done() for w in workers)
                )

        await asyncio.wait_for(reached(), PROGRESS_TIMEOUT_S)
        for task in workers:
            if task.done():
                task.result()  # a worker that failed raises its assertion here
        assert self.round_acks >= count


def launch(forks: ForkServer, backend: Backend, env: dict[str, str]) -> LiveServer:
    """`meimages serve` forked from the warm fork server, once it answers its health check."""
    return start_server(backend.data_dir, env, spawn=forks.spawn, timeout_s=START_TIMEOUT_S)


def unlinked(registry: dict[str, bool], known_orphans: set[str]) -> set[str]:
    """Keys registered in this round and not (yet) referenced by a row."""
    return {key for key, live in registry.items() if not live} - known_orphans


async def wait_for_collector(
    run: Run, backend: Backend, orphans: set[str], workers: list[asyncio.Task[None]]
) -> None:
    """Upload on until the collector has removed the orphans the last kill left (it first
    runs a second after the start): looked at after each acknowledged upload."""

    async def collected() -> None:
        while True:
            registry = (await backend.db_state()).registry
            if not any(registry.get(key) is False for key in orphans):
                return
            await run.wait_for_acks(run.round_acks + 1, workers)

    if orphans:
        try:
            await asyncio.wait_for(collected(), PROGRESS_TIMEOUT_S)
        except TimeoutError:
            raise AssertionError(f"the collector never removed {sorted(orphans)}") from None
        run.collected += 1


async def one_round(
    run: Run, backend: Backend, forks: ForkServer, server: LiveServer, orphans: set[str]
) -> None:
    """Upload until the server has acknowledged enough (and collected the last kill's
    leftovers), then kill it in an observed state."""
    run.round_acks, run.stopping = 0, False
    workers = [asyncio.create_task(run.worker(server.url)) for _ in range(IN_FLIGHT)]
    try:
        await run.wait_for_acks(run.rnd.randint(MIN_ACKS, MAX_ACKS), workers)
        await wait_for_collector(run, backend, orphans, workers)
        for look in range(1, PROBES + 1):
            forks.freeze(server.pid)  # answered once the server has really stopped
            run.looks += 1
            db, blobs = await backend.db_state(), backend.blobs()
            run.violations += [f"frozen: {v}" for v in violations(db, blobs)]
            pending = unlinked(db.registry, orphans)
            if pending & blobs.keys:
                kind = "mid-write: bytes stored, row not linked yet"
            elif pending:
                kind = "mid-write: keys registered, bytes not stored yet"
            elif blobs.incomplete:
                kind = "mid-write: temp file being written"
            else:
                kind = "between writes"
            # A kind no earlier round was killed in; on the last look, whatever it is.
            if (kind != "between writes" and kind not in run.kills) or look == PROBES:
                break
            forks.thaw(server.pid)
            await run.wait_for_acks(run.round_acks + 1, workers)
        run.stopping = True
        server.kill()  # SIGKILL, in exactly the state just read
        run.kills[kind] += 1
        await asyncio.wait_for(asyncio.gather(*workers), PROGRESS_TIMEOUT_S)
    finally:
        run.stopping = True
        server.kill()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


async def read_back(server: LiveServer, token: str, uploads: list[Upload]) -> list[str]:
    """Every acknowledged upload read back (IN_FLIGHT at a time): its bytes, its hash, and
    for GraphQL uploads the image that names it."""
    limits = Limits()
    turns = asyncio.Semaphore(IN_FLIGHT)

    async def read_one(client: httpx.AsyncClient, upload: Upload) -> list[str]:
        found = []
        name = f"{upload.via} upload {upload.media_id}"
        # Signed: no token needed. Absolute URLs name the server that issued them (killed
        # since): the path is asked of the one running now.
        url = urlsplit(upload.public_url)
        async with turns:
            response = await client.get(f"{url.path}?{url.query}")
        if response.status_code != 200:
            return [f"{name}: {response.status_code}"]
        expected = sanitising._encode(upload.source, limits).data
        digest = hashlib.sha256(response.content).hexdigest()
        if response.content != expected:
            found.append(f"{name} reads back different")
        if digest in upload.storage_path:
            found.append(f"{name} is stored under a name that shows its content hash")
        if upload.sha256 is not None and upload.sha256 != digest:
            found.append(f"{name}: hash in the response differs")
        if upload.image_id is not None:
            async with turns:
                answer = await client.post(
                    "/graphql",
                    json={"query": f'{{ meImage(id: "{upload.image_id}") {{ id mediaId }} }}'},
                    headers={"Authorization": f"Bearer {token}"},
                )
            image = answer.json()["data"]["meImage"]
            if image is None or image["mediaId"] != upload.media_id:
                found.append(f"image {upload.image_id} lost after a success answer")
        return found

    async with httpx.AsyncClient(base_url=server.url, timeout=PROGRESS_TIMEOUT_S) as client:
        results = await asyncio.gather(*(read_one(client, upload) for upload in uploads))
    return [problem for found in results for problem in found]


async def check_dead(run: Run, backend: Backend, when: str) -> set[str]:
    """Check the state a dead server left; returns the orphans it left for the collector."""
    await backend.after_kill()
    db, blobs = await backend.db_state(), backend.blobs()
    run.violations += [f"{when}: {v}" for v in violations(db, blobs)]
    # Encrypted uploads: every object a row names opens for its owner.
    run.violations += [f"{when}: {v}" for v in await unopenable_objects(backend.settings())]
    return {key for key, live in db.registry.items() if not live}


async def crash_run(backend: Backend, forks: ForkServer) -> Run:
    run = Run(random.Random(20261129))
    env = {**GC_EVERY_SECOND, **UNLIMITED, **backend.env()}
    orphans: set[str] = set()

    def start() -> LiveServer:
        began = time.monotonic()
        server = launch(forks, backend, env)
        run.startup_s += time.monotonic() - began
        return server

    server = start()
    try:
        run.token = server.token("crash-owner", None, 7200)
        for kill in range(1, KILLS + 1):
            await one_round(run, backend, forks, server, orphans)
            orphans = await check_dead(run, backend, f"after kill {kill}")
            server = start()
        run.violations += await read_back(server, run.token, run.acknowledged)
    finally:
        server.kill()
    await check_dead(run, backend, "at the end")
    return run


def _cpu_seconds(forks: ForkServer) -> float:
    """CPU time of this process and of the servers it started, the fork server's children
    (about the wall time the run would take alone on one core; PostgreSQL's share is not
    counted)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    ended = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return ended + forks.children_cpu_s


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_sigkill_during_uploads_loses_nothing_and_leaves_no_orphans(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest, forks: ForkServer
) -> None:
    started = time.monotonic()
    cpu_before = _cpu_seconds(forks)
    s3 = request.getfixturevalue("s3") if backend_name.endswith("s3") else None
    backend = await open_backend(backend_name, tmp_path, s3)
    try:
        run = await crash_run(backend, forks)
    finally:
        await backend.close()
    kills = sum(run.kills.values())
    print(
        f"\ncrash test [{backend_name}]: {kills} SIGKILLs after {run.looks} looks"
        f" ({', '.join(f'{n} {k}' for k, n in sorted(run.kills.items()))}),"
        f" {run.collected} rounds in which the collector removed a kill's leftovers,"
        f" {run.attempts} uploads started, {len(run.acknowledged)} acknowledged,"
        f" {run.cut_off} cut off, {len(run.refused)} refused while alive,"
        f" {len(run.violations)} violations, {time.monotonic() - started:.1f} s"
        f" ({run.startup_s:.1f} s of it starting servers),"
        f" {_cpu_seconds(forks) - cpu_before:.1f} s CPU in the test and its servers"
    )
    assert kills == KILLS
    # A kill with uploads in flight leaves orphans; the next round's collector removed
    # them while uploads ran.
    assert run.collected >= 1
    # Each round waited for at least one acknowledged upload before its kill.
    assert len(run.acknowledged) >= KILLS * MIN_ACKS
    assert run.refused == []
    assert run.violations == [], run.violations[:20]
