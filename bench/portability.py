"""Export and import benchmark: time and peak memory for a pool of 200 photos.

    .venv/bin/python -m bench.portability [--images 200] [--side 1600] [--json]

The embedded setup (SQLite + local folder) in a temporary folder. One owner gets
`--images` photo-like JPEGs (each `--side` px wide, 4:3, noisy enough to weigh what a
phone photo of that size weighs; every one different, so nothing deduplicates), a
second owner a quarter as many. Each phase then runs in a fresh process of its own, so
its figures are its own: wall time, and the RSS high-water mark (`getrusage`) above what
the process held once the server's stores were open. Exporting both pools shows whether
memory grows with the pool; the import restores the large export into a new owner.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.short import parse_args, run_forked
from testbed.photos import photo

LARGE, SMALL = "large-pool", "small-pool"
# What the phases import: a quick run forks each phase from one process that imported it
# once (bench.short), rather than paying the imports four times.
PHASE_IMPORTS = (
    "api.settings",
    "api.wiring",
    "resolvers.media.uploads",
    "resolvers.pool.me_images",
    "resolvers.portability.export",
    "resolvers.portability.restore",
    "resolvers.stores",
    "storage.migrate",
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _server(data_dir: Path) -> Any:
    from api.settings import Settings
    from api.wiring import build_server

    return build_server(Settings(data_dir=data_dir))


async def _populate(data_dir: Path, images: int, side: int) -> dict[str, Any]:
    from resolvers.media.uploads import store_image
    from resolvers.pool.me_images import Kind, Slot, create_image
    from resolvers.stores import Caller
    from storage import migrate

    server = _server(data_dir)
    await migrate.upgrade(server.stores.db)
    for owner, count in ((LARGE, images), (SMALL, max(1, images // 4))):
        caller = Caller(owner)
        for n in range(count):
            media = await store_image(server.stores, caller, photo(n, side))
            await create_image(
                server.stores,
                caller,
                media_id=media.id,
                kind=Kind.FACE if n % 2 else Kind.FULLBODY,
                encrypted={"label": f"photo {n}", "tags": ["bench", f"n{n % 7}"]},
                ai_reference=n % 3 == 0,
                primary_for=Slot.FACE_REF if n == 1 else None,
            )
    await server.stores.db.dispose()
    return {}


async def _export(data_dir: Path, owner: str, out: Path) -> dict[str, Any]:
    from resolvers.portability.export import write_archive
    from resolvers.stores import Caller

    server = _server(data_dir)
    async with server.stores.reading() as read:  # open the database before measuring
        await read.owners.get(owner)
    baseline = _rss_mb()
    started = time.perf_counter()
    summary = await write_archive(server.stores, Caller(owner), out)
    seconds = time.perf_counter() - started
    await server.stores.db.dispose()
    return {
        "images": summary.images,
        "seconds": seconds,
        "archive_mb": summary.byte_size / 1e6,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _rss_mb(),
    }


async def _import(data_dir: Path, archive: Path) -> dict[str, Any]:
    from resolvers.portability.restore import import_archive
    from resolvers.stores import Caller

    server = _server(data_dir)
    async with server.stores.reading() as read:
        await read.owners.get("restored")
    baseline = _rss_mb()
    started = time.perf_counter()
    report = await import_archive(server.stores, Caller("restored"), archive)
    seconds = time.perf_counter() - started
    await server.stores.db.dispose()
    return {
        "images": len(report.images),
        "seconds": seconds,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _rss_mb(),
    }


def _phase(args: argparse.Namespace) -> None:
    folder = Path(args.dir)
    if args.phase == "populate":
        result = asyncio.run(_populate(folder / "source", args.images, args.side))
    elif args.phase in (LARGE, SMALL):
        result = asyncio.run(_export(folder / "source", args.phase, folder / f"{args.phase}.zip"))
    else:
        result = asyncio.run(_import(folder / "source", folder / f"{LARGE}.zip"))
    print(json.dumps(result))


def _run_phase(folder: Path, phase: str, args: argparse.Namespace) -> dict[str, Any]:
    argv = ["--phase", phase, "--dir", str(folder)]
    argv += ["--images", str(args.images), "--side", str(args.side)]
    if args.quick:
        out = folder / f"{phase}.out"
        if code := run_forked(PHASE_IMPORTS, _forked_phase, argv, str(out)):
            raise RuntimeError(f"phase {phase} exited {code}")
        stdout = out.read_text()
    else:
        command = [sys.executable, "-m", "bench.portability", *argv]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True)
        stdout = done.stdout
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def _forked_phase(argv: list[str], out: str) -> None:
    """A phase in a forked process (a quick run): its command line, its output to `out`."""
    written = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(written, 1)
    os.close(written)
    main(argv)
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--side", type=int, default=1600)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parse_args(parser, argv, images=5, side=400)
    if args.phase:
        _phase(args)
        return
    with tempfile.TemporaryDirectory(prefix="meimages-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        _run_phase(folder, "populate", args)
        setup_s = time.perf_counter() - started
        results = {
            "export_small": _run_phase(folder, SMALL, args),
            "export_large": _run_phase(folder, LARGE, args),
            "import_large": _run_phase(folder, "import", args),
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"pool: {args.images} JPEGs of {args.side}x{args.side * 3 // 4} (setup {setup_s:.1f} s)")
    for name, r in results.items():
        extra = f", archive {r['archive_mb']:.1f} MB" if "archive_mb" in r else ""
        print(
            f"{name:13s} {r['images']:4d} images  {r['seconds']:6.2f} s  "
            f"peak RSS {r['peak_rss_mb']:6.1f} MB (+{r['peak_rss_mb'] - r['baseline_rss_mb']:.1f} "
            f"over {r['baseline_rss_mb']:.1f} MB with stores open){extra}"
        )


if __name__ == "__main__":
    main()
