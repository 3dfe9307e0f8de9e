"""Crash test: SIGKILL a real server again and again in the middle of uploads.

Each round starts `meimages serve` (SQLite + local blob folder, the embedded setup, with
the garbage collector running every second and no grace period, so it races the uploads
as hard as it can), keeps several uploads in flight over REST and GraphQL, and kills the
process at a random moment. Afterwards, every upload that got a success response must
read back byte-identical to what the pipeline makes of its file, no row may point at a
missing blob, and no blob may be unknown to the registry the collector works from.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import random
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from resolvers import media
from resolvers.stores import Limits
from tests.e2e.server import LiveServer, start_server

KILLS = 21
IN_FLIGHT = 6
TIME_BUDGET_S = 100
GQL_UPLOAD = (
    "mutation($file: Upload!) { uploadMeImage(file: $file, input: {kind: FACE}) {"
    " __typename ... on MeImage { id mediaId storagePath publicUrl } } }"
)


@dataclass
class Upload:
    source: bytes
    via: str
    media_id: str
    storage_path: str
    public_url: str
    sha256: str | None = None
    image_id: str | None = None


@dataclass
class Tally:
    succeeded: list[Upload] = field(default_factory=list)
    failed: int = 0
    attempts: int = 0


def sources(count: int, seed: int) -> list[bytes]:
    """Distinct small photos (PNG and JPEG), so each upload is new content."""
    rnd = random.Random(seed)
    files = []
    for index in range(count):
        w, h = rnd.randrange(120, 260), rnd.randrange(100, 220)
        img = Image.effect_noise((w, h), 30 + index % 50).convert("RGB")
        img.paste((rnd.randrange(256), rnd.randrange(256), 0), (0, 0, w // 3, h // 3))
        out = io.BytesIO()
        img.save(out, "PNG" if index % 2 else "JPEG", **({} if index % 2 else {"quality": 88}))
        files.append(out.getvalue())
    return files


async def upload_once(client: httpx.AsyncClient, token: str, data: bytes, via: str) -> Upload:
    auth = {"Authorization": f"Bearer {token}"}
    if via == "rest":
        response = await client.post(
            "/api/v1/profile/me-images/upload",
            files={"file": ("p.bin", data, "application/octet-stream")},
            headers=auth,
        )
        if response.status_code != 201:
            raise RuntimeError(f"REST upload answered {response.status_code}")
        body = response.json()
        return Upload(
            data, via, body["mediaId"], body["storagePath"], body["publicUrl"], body["sha256"]
        )
    response = await client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": GQL_UPLOAD, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": ("p.bin", data, "application/octet-stream")},
        headers={**auth, "GraphQL-Require-Preflight": "1"},
    )
    result = response.json()["data"]["uploadMeImage"]
    if result["__typename"] != "MeImage":
        raise RuntimeError(f"GraphQL upload answered {result}")
    return Upload(
        data,
        via,
        result["mediaId"],
        result["storagePath"],
        result["publicUrl"],
        image_id=result["id"],
    )


async def one_round(
    server: LiveServer, token: str, pool: list[bytes], rnd: random.Random, tally: Tally
) -> None:
    """Upload until a random moment, then SIGKILL the server mid-flight."""
    stop = asyncio.Event()

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            while not stop.is_set():
                # Mostly new files, sometimes one uploaded before (the dedupe path).
                data = (
                    rnd.choice(pool[: max(1, len(tally.succeeded))])
                    if rnd.random() < 0.15
                    else pool.pop()
                )
                tally.attempts += 1
                try:
                    tally.succeeded.append(
                        await upload_once(client, token, data, rnd.choice(("rest", "graphql")))
                    )
                except (httpx.HTTPError, RuntimeError, KeyError, ValueError):
                    tally.failed += 1
                    if stop.is_set():
                        return

    workers = [asyncio.create_task(worker()) for _ in range(IN_FLIGHT)]
    await asyncio.sleep(rnd.uniform(0.2, 0.7))
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*workers), timeout=15)


def invariant_violations(data_dir: Path) -> list[str]:
    """Rows pointing at missing blobs, and blobs the registry does not know."""
    root = data_dir / "media"
    violations = []
    with sqlite3.connect(data_dir / "meimages.db") as db:
        referenced = [
            path
            for row in db.execute(
                "SELECT storage_path, thumbnail_path, medium_path FROM media_object"
            )
            for path in row
        ]
        referenced += [row[0] for row in db.execute("SELECT storage_path FROM media_variant")]
        for path in referenced:
            if path is None or not (root / path).is_file():
                violations.append(f"row points at missing blob {path}")
        for (key,) in db.execute("SELECT key FROM media_blob WHERE orphaned_at IS NULL"):
            if not (root / key).is_file():
                violations.append(f"registered as referenced but missing: {key}")
        registered = {row[0] for row in db.execute("SELECT key FROM media_blob")}
        for ref, obj in db.execute("SELECT id, media_object_id FROM media_ref"):
            if obj is None:
                violations.append(f"media ref {ref} without object")
    for path in root.rglob("*"):
        key = path.relative_to(root).as_posix()
        if path.is_file() and not path.name.startswith(".tmp-") and key not in registered:
            violations.append(f"blob nobody tracks: {key}")
    return violations


async def read_back(server: LiveServer, token: str, uploads: list[Upload]) -> list[str]:
    violations = []
    limits = Limits()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for upload in uploads:
            response = await client.get(upload.public_url)  # signed: no token needed
            if response.status_code != 200:
                violations.append(f"{upload.via} upload {upload.media_id}: {response.status_code}")
                continue
            expected = media._encode(upload.source, limits).data
            digest = hashlib.sha256(response.content).hexdigest()
            if response.content != expected or not upload.storage_path.endswith(digest):
                violations.append(f"{upload.via} upload {upload.media_id} reads back different")
            if upload.sha256 is not None and upload.sha256 != digest:
                violations.append(f"upload {upload.media_id}: hash in the response differs")
            if upload.image_id is not None:
                found = await client.post(
                    "/graphql",
                    json={"query": f'{{ meImage(id: "{upload.image_id}") {{ id mediaId }} }}'},
                    headers={"Authorization": f"Bearer {token}"},
                )
                image = found.json()["data"]["meImage"]
                if image is None or image["mediaId"] != upload.media_id:
                    violations.append(f"image {upload.image_id} lost after a success response")
    return violations


def test_sigkill_during_uploads_loses_nothing_and_leaves_no_orphans(tmp_path: Path) -> None:
    started = time.monotonic()
    rnd = random.Random(20261125)
    pool = sources(KILLS * IN_FLIGHT * 3, seed=7)
    env = {"MEIMAGES_GC_INTERVAL": "1", "MEIMAGES_GC_GRACE": "0"}
    tally = Tally()
    server = start_server(tmp_path, env)
    token = server.token("crash-owner", ttl="2h")
    kills = 0
    try:
        while kills < KILLS:
            assert time.monotonic() - started < TIME_BUDGET_S, "crash test over its time budget"
            asyncio.run(one_round(server, token, pool, rnd, tally))
            kills += 1
            server = start_server(tmp_path, env)
        violations = invariant_violations(tmp_path)
        violations += asyncio.run(read_back(server, token, tally.succeeded))
    finally:
        server.stop(signal.SIGKILL)
    print(
        f"\ncrash test: {kills} SIGKILLs, {tally.attempts} uploads started, "
        f"{len(tally.succeeded)} succeeded, {tally.failed} cut off, "
        f"{len(violations)} violations, {time.monotonic() - started:.1f} s"
    )
    assert kills >= 20
    assert len(tally.succeeded) >= KILLS  # the test really uploaded between kills
    assert violations == [], violations[:20]
