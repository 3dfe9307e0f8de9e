"""Upload benchmark: a 12-megapixel phone JPEG through a real server, next to Pillow alone.

    .venv/bin/python -m bench.upload [--runs 9] [--size 4000x3000] [--json]

It starts `meimages serve` on a free loopback port (SQLite + local blob folder, the
embedded setup) and times request-to-response of the REST upload route for a 4000x3000
JPEG carrying EXIF (orientation 6, GPS, maker note, thumbnail): decode, orient, strip,
hash, store durably, make the two variants, commit. Every run uploads different pixels,
so no run is answered by deduplication.

The baseline is Pillow alone doing the same image work in this process, with no HTTP,
database, hashing or storage: decode, exif_transpose, JPEG encode, medium and thumbnail
resize + WebP encode. The difference is what the server adds on top.

`--size` sets the photo's width and height (a quick run's is 1600x1200).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageOps

from bench.short import parse_args, server_spawn
from resolvers.media import sanitising
from resolvers.stores import Limits
from testbed.media_samples import exif_block
from testbed.server import start_server

SIZE = (4000, 3000)


def phone_photo(variant: int, size: tuple[int, int] = SIZE) -> bytes:
    """Smooth gradients, texture and edges at 12 MP; about the size a phone writes."""
    w, h = size
    base = _gradients(size)
    texture = Image.effect_noise((w, h), 24).convert("RGB")
    img = Image.blend(base, texture, 0.3)
    # A different patch per run: different pixels, different content hash.
    img.paste((variant * 37 % 256, 90, 160), (100 + variant * 50, 100, 400 + variant * 50, 400))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif_block(f"bench{variant}", orientation=6))
    return out.getvalue()


@functools.cache
def _gradients(size: tuple[int, int]) -> Image.Image:
    """The smooth part of every photo of one size (the same each time: made once)."""
    w, h = size
    return Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((w, h)),
            Image.radial_gradient("L").resize((w, h)),
            Image.linear_gradient("L").rotate(90).resize((w, h)),
        ),
    )


def photo_size(text: str) -> tuple[int, int]:
    """`--size WIDTHxHEIGHT`."""
    width, height = (int(n) for n in text.split("x"))
    return width, height


def pillow_alone(data: bytes, limits: Limits) -> None:
    """The same decode + encode work, nothing else."""
    img: Image.Image = Image.open(io.BytesIO(data))
    img.load()
    img = ImageOps.exif_transpose(img)
    img.save(io.BytesIO(), "JPEG", quality=90)
    medium = img.copy()
    medium.thumbnail((limits.medium_px, limits.medium_px), Image.Resampling.LANCZOS, 1.5)
    medium.save(io.BytesIO(), "WEBP", quality=82, method=4)
    thumb = medium.copy()
    thumb.thumbnail((limits.thumbnail_px, limits.thumbnail_px), Image.Resampling.LANCZOS, 1.5)
    thumb.save(io.BytesIO(), "WEBP", quality=80, method=4)


def timed(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "min_ms": round(ordered[0] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--size", type=photo_size, default=SIZE, help="WIDTHxHEIGHT of the photo (4000x3000)"
    )
    args = parse_args(parser, runs=1, size=(1600, 1200))
    spawn = server_spawn(args.quick)  # a quick run's server is ready while photos are made
    limits = Limits()
    photos = [phone_photo(i, args.size) for i in range(args.runs + 1)]

    pillow = [timed(pillow_alone, photo, limits) for photo in photos[1:]]
    pipeline = [timed(sanitising._encode, photo, limits) for photo in photos[1:]]

    server_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="meimages-bench-") as tmp:
        server = start_server(Path(tmp), {"MEIMAGES_GC_INTERVAL": "0"}, spawn=spawn)
        try:
            token = server.token("bench")
            auth = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for index, photo in enumerate(photos):
                    start = time.perf_counter()
                    response = client.post(
                        "/api/v1/profile/me-images/upload",
                        files={"file": ("IMG_0001.jpg", photo, "image/jpeg")},
                        headers=auth,
                    )
                    elapsed = time.perf_counter() - start
                    assert response.status_code == 201, response.text
                    body = response.json()
                    assert (body["width"], body["height"]) == (args.size[1], args.size[0])
                    if index == 0:
                        continue  # warm-up: imports, first connection, first SQLite pages
                    server_times.append(elapsed)
                stored = client.get(body["publicUrl"]).content
                assert hashlib.sha256(stored).hexdigest() == body["sha256"]
        finally:
            server.stop()

    result = {
        "image": f"{args.size[0]}x{args.size[1]} JPEG, {len(photos[1]) / 1e6:.1f} MB, EXIF orientation 6 + GPS",
        "runs": args.runs,
        "server_upload": summary(server_times),
        "pipeline_in_process": summary(pipeline),
        "pillow_alone": summary(pillow),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"image: {result['image']}, {args.runs} runs each")
    for name in ("server_upload", "pipeline_in_process", "pillow_alone"):
        row = result[name]
        assert isinstance(row, dict)
        print(
            f"  {name:<20} median {row['median_ms']:>7} ms   "
            f"min {row['min_ms']:>7} ms   max {row['max_ms']:>7} ms"
        )


if __name__ == "__main__":
    main()
