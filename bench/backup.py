"""Backup and restore throughput for a pool of 1,000 photos (embedded default).

    .venv/bin/python -m bench.backup [--images 1000] [--side 640] [--json]

In a temporary folder: one owner gets `--images` photo-like JPEGs (each `--side` px
wide, all different, so nothing deduplicates; every upload stores an original, a
thumbnail and a medium rendition). Then `take_backup` copies the live folder into a
new one and `restore` brings it back into an empty folder (database, blobs checked
against the manifest, the erasure journal replayed, everything verified, every blob
read back) — what `meimages backup` and `meimages restore` run, without the start-up of
a command. Figures: seconds, photos per second, blobs per second and MB per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.short import parse_args
from testbed.photos import photo

OWNER = "bench-backup"


def _server(data_dir: Path) -> Any:
    from api.settings import Settings
    from api.wiring import build_server

    # The pool is filled as fast as the machine allows: no upload rate limit.
    return build_server(Settings(data_dir=data_dir, rate_uploads_per_minute=0))


async def _populate(data_dir: Path, images: int, side: int) -> None:
    from resolvers.media.uploads import store_image
    from resolvers.pool.me_images import Kind, create_image
    from resolvers.stores import Caller
    from storage import migrate

    server = _server(data_dir)
    await migrate.upgrade(server.stores.db)
    caller = Caller(OWNER)
    for n in range(images):
        media = await store_image(server.stores, caller, photo(n, side))
        await create_image(
            server.stores,
            caller,
            media_id=media.id,
            kind=Kind.FACE if n % 2 else Kind.FULLBODY,
            encrypted={"label": f"photo {n}", "tags": ["bench"]},
        )
    await server.stores.db.dispose()


async def _backup(source: Path, dest: Path) -> dict[str, Any]:
    from resolvers.operations.backup import take_backup

    server = _server(source)
    started = time.perf_counter()
    report = await take_backup(server.stores, dest, secrets_file=source / "secrets.json")
    seconds = time.perf_counter() - started
    await server.stores.db.dispose()
    assert report.complete, report.missing[:5]
    return {
        "images": report.images,
        "blobs": report.blobs,
        "bytes": report.bytes,
        "seconds": seconds,
    }


async def _restore(source: Path, backup: Path, target: Path) -> dict[str, Any]:
    from resolvers.operations.restore import place_files, restore
    from storage import migrate
    from storage.backup import read_manifest
    from storage.erasures import ErasureJournal

    started = time.perf_counter()
    manifest = read_manifest(backup)
    place_files(
        backup,
        manifest,
        data_dir=target,
        sqlite_target=target / "meimages.db",
        master_key_target=target / "master-keys.json",
        master_key_file=source / "master-keys.json",
    )
    server = _server(target)
    erasures = ErasureJournal(source / "erasures.jsonl").read()
    report = await restore(
        server.stores,
        backup,
        manifest,
        erasures,
        migrate=lambda: migrate.upgrade(server.stores.db),
    )
    seconds = time.perf_counter() - started
    await server.stores.db.dispose()
    assert report.check.whole, report.check.problems[:5]
    return {
        "images": report.images,
        "blobs": report.blobs,
        "bytes": report.bytes,
        "seconds": seconds,
    }


def _line(name: str, r: dict[str, Any]) -> str:
    s = r["seconds"]
    return (
        f"{name:8s} {r['images']:5d} photos {r['blobs']:5d} blobs {r['bytes'] / 1e6:7.1f} MB "
        f"in {s:6.2f} s: {r['images'] / s:7.1f} photos/s, {r['blobs'] / s:7.1f} blobs/s, "
        f"{r['bytes'] / 1e6 / s:6.1f} MB/s"
    )


async def _run(folder: Path, images: int, side: int) -> dict[str, Any]:
    source, backup, target = folder / "source", folder / "backup", folder / "restored"
    started = time.perf_counter()
    await _populate(source, images, side)
    setup = time.perf_counter() - started
    return {
        "setup_seconds": setup,
        "backup": await _backup(source, backup),
        "restore": await _restore(source, backup, target),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--side", type=int, default=640)
    parser.add_argument("--json", action="store_true")
    args = parse_args(parser, images=6, side=320)
    with tempfile.TemporaryDirectory(prefix="meimages-bench-") as tmp:
        results = asyncio.run(_run(Path(tmp), args.images, args.side))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"pool: {args.images} JPEGs of {args.side}x{args.side * 3 // 4} "
        f"(setup {results['setup_seconds']:.1f} s)"
    )
    print(_line("backup", results["backup"]))
    print(_line("restore", results["restore"]) + "  (verify included)")


if __name__ == "__main__":
    main()
