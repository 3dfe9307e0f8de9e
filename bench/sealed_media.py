"""Sealed media benchmark: what sealing costs uploads and media delivery, and how fast
`meimages migrate` seals an older installation.

    .venv/bin/python -m bench.sealed_media [--before DIR] [--uploads 7] [--requests 300]
                                           [--rounds 2] [--objects 20] [--size 4000x3000]
                                           [--json]

Upload: a 12-megapixel phone JPEG (the one `bench.upload` makes, different pixels every
run) through the REST upload route of a real `meimages serve` (SQLite + local folder),
request to response; p50 of `--uploads` runs after a warm-up.
Delivery: the original (~4 MB) and the thumbnail of the last upload by signed URL: p50 of
sequential requests (c=1), and requests per second with 8 in flight (c=8); loopback, one
client process, so the figures compare the two servers, not absolute capacity.
`--before DIR` runs the same against a source tree of a version before sealing (for
instance `git archive <commit> | tar -x -C DIR`), served with this virtualenv's packages;
the two servers run in interleaved rounds and the medians are shown.
Conversion: `--objects` 12 MP photos stored sealed in process, turned back into the
plaintext layout (`testbed.plaintext_era`), then sealed by the conversion `meimages
migrate` runs: objects and MB per second.
`--size` sets the photos' width and height (a quick run's are 1600x1200).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.short import parse_args, server_spawn
from bench.upload import SIZE, phone_photo, photo_size
from testbed.server import ROOT, LiveServer, Spawn, Subprocess, start_server

IN_FLIGHT = 8


def spawn_from(tree: Path) -> Spawn:
    """`meimages ARGS` run from another source tree, on this virtualenv's packages."""

    def spawn(args: list[str], env: dict[str, str], log: Path) -> Subprocess:
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "api.cli", *args],
                env={**env, "PYTHONPATH": str(tree)},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=tree,
            )
        return Subprocess(popen)

    return spawn


def p50_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


async def deliver(base: str, url: str, requests: int) -> tuple[float, float]:
    """(p50 ms at c=1, req/s at c=8) for one URL."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(3):  # warm-up: connection, caches
            assert (await client.get(url)).status_code == 200
        sequential = []
        for _ in range(requests):
            began = time.perf_counter()
            response = await client.get(url)
            sequential.append(time.perf_counter() - began)
            assert response.status_code == 200
        remaining = requests

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                assert (await client.get(url)).status_code == 200

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        rate = requests / (time.perf_counter() - began)
    return p50_ms(sequential), round(rate, 1)


def measure(
    server: LiveServer, uploads: int, requests: int, first: int, size: tuple[int, int]
) -> dict[str, float]:
    auth = {"Authorization": f"Bearer {server.token('bench')}"}
    times = []
    body: dict[str, str] = {}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for index in range(uploads + 1):
            photo = phone_photo(first + index, size)
            began = time.perf_counter()
            response = client.post(
                "/api/v1/profile/me-images/upload",
                files={"file": ("IMG_0001.jpg", photo, "image/jpeg")},
                headers=auth,
            )
            elapsed = time.perf_counter() - began
            assert response.status_code == 201, response.text
            body = response.json()
            if index:
                times.append(elapsed)
    original = asyncio.run(deliver(server.url, body["publicUrl"], requests))
    thumbnail = asyncio.run(deliver(server.url, body["thumbnailUrl"], requests))
    return {
        "upload_p50_ms": p50_ms(times),
        "original_p50_ms": original[0],
        "original_rps": original[1],
        "thumbnail_p50_ms": thumbnail[0],
        "thumbnail_rps": thumbnail[1],
    }


def sealing_cost(size: tuple[int, int], samples: int = 30) -> dict[str, float]:
    """What sealing and opening one object costs in itself, in process: the original and
    the thumbnail of a `size` upload (medians of `samples`; a busy machine inflates both
    sides of the comparison above, not these)."""
    import uuid

    from resolvers.media.sanitising import _encode
    from resolvers.stores import Limits
    from storage.crypto import blob_keys, open_blob, seal_blob

    keys = blob_keys(str(uuid.uuid4()), os.urandom(32), "owner")
    image = _encode(phone_photo(999, size), Limits())
    cost: dict[str, float] = {}
    for name, data in (("original", image.data), ("thumbnail", image.thumbnail)):
        sealed = seal_blob(keys, "owner", name, data)
        seal, opened = [], []
        for _ in range(samples):
            began = time.perf_counter()
            seal_blob(keys, "owner", name, data)
            seal.append(time.perf_counter() - began)
            began = time.perf_counter()
            open_blob(keys, "owner", name, sealed)
            opened.append(time.perf_counter() - began)
        cost[f"{name}_kb"] = round(len(data) / 1000, 1)
        cost[f"{name}_seal_ms"] = p50_ms(seal)
        cost[f"{name}_open_ms"] = p50_ms(opened)
    return cost


async def conversion(objects: int, size: tuple[int, int]) -> dict[str, float]:
    from api.settings import Settings
    from api.wiring import build_server
    from resolvers.lifecycle.sealing import seal_stored_media
    from resolvers.media.uploads import store_image
    from resolvers.stores import Caller
    from storage import migrate
    from testbed.plaintext_era import regress_to_plaintext

    with tempfile.TemporaryDirectory(prefix="meimages-bench-") as tmp:
        server = build_server(Settings(data_dir=Path(tmp)))
        stores = server.stores
        try:
            await migrate.upgrade(stores.db)
            owners = [f"owner-{index}" for index in range(4)]
            for index in range(objects):
                await store_image(stores, Caller(owners[index % 4]), phone_photo(500 + index, size))
            plaintext = 0
            for owner in owners:
                plaintext += sum(
                    len(data) for data in (await regress_to_plaintext(stores, owner)).values()
                )
            began = time.perf_counter()
            report = await seal_stored_media(stores)
            elapsed = time.perf_counter() - began
        finally:
            await stores.db.dispose()
    assert report.objects_sealed == objects, report
    return {
        "objects": objects,
        "stored_objects": report.blobs_sealed,
        "plaintext_mb": round(plaintext / 1e6, 1),
        "seconds": round(elapsed, 2),
        "objects_per_s": round(objects / elapsed, 1),
        "mb_per_s": round(plaintext / 1e6 / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=None, help="source tree before sealing")
    parser.add_argument("--uploads", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--objects", type=int, default=20)
    parser.add_argument(
        "--size", type=photo_size, default=SIZE, help="WIDTHxHEIGHT of the photos (4000x3000)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parse_args(parser, uploads=1, requests=20, rounds=1, objects=3, size=(1600, 1200))

    trees = {"after": ROOT}
    if args.before is not None:
        trees = {"before": args.before.resolve(), **trees}
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for number in range(args.rounds):
        for name, tree in trees.items():
            with tempfile.TemporaryDirectory(prefix="meimages-bench-") as tmp:
                spawn = spawn_from(tree) if name == "before" else server_spawn(args.quick)
                server = start_server(Path(tmp), {"MEIMAGES_GC_INTERVAL": "0"}, spawn=spawn)
                try:
                    first = 100 * number + (0 if name == "before" else 50)
                    measured = measure(server, args.uploads, args.requests, first, args.size)
                    rounds[name].append(measured)
                finally:
                    server.stop()
    result: dict[str, object] = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in rounds.items()
    }
    result["sealing_cost"] = sealing_cost(args.size, 3 if args.quick else 30)
    result["conversion"] = asyncio.run(conversion(args.objects, args.size))
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result))
        return
    for name in trees:
        row = result[name]
        assert isinstance(row, dict)
        print(
            f"{name:<7} upload p50 {row['upload_p50_ms']:>8} ms | original p50 "
            f"{row['original_p50_ms']:>6} ms, {row['original_rps']:>7} req/s | thumbnail p50 "
            f"{row['thumbnail_p50_ms']:>6} ms, {row['thumbnail_rps']:>7} req/s"
        )
    print(f"sealing cost per object: {result['sealing_cost']}")
    print(f"conversion: {result['conversion']}")
    print(f"load average: {result['load_average']}")


if __name__ == "__main__":
    main()
