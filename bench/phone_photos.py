"""Phone-photo benchmark: the server's image work on one 12 MP photo as JPEG, HEIC and AVIF.

    .venv/bin/python -m bench.phone_photos [--runs 3] [--size 4000x3000] [--json]

The same pixels (bench.upload's 4000x3000 photo-like picture) are written as a JPEG
(quality 90), a HEIC as iPhones write it (a grid of 512 px tiles, quality 80) and an
AVIF (quality 80). Each is run through `sanitising._encode`, everything an upload costs
in image work: sniff, decode, orient, sRGB, re-encode (JPEG), medium and thumbnail WebP.
Decoding runs on one thread, as the server's bounded worker pool runs it.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from typing import Any

from PIL import Image

from bench.short import parse_args
from bench.upload import SIZE, phone_photo
from resolvers.limits import Limits
from resolvers.media import sanitising


def encodings(size: tuple[int, int] = SIZE) -> dict[str, bytes]:
    img = Image.open(io.BytesIO(phone_photo(1, size)))
    img.load()
    files = {"jpeg": phone_photo(1, size)}
    for name, fmt, options in (
        ("heic-grid", "HEIF", {"quality": 80, "tile_size": 512}),
        ("avif", "AVIF", {"quality": 80}),
    ):
        out = io.BytesIO()
        img.save(out, fmt, **options)
        files[name] = out.getvalue()
    return files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--size",
        type=lambda text: tuple(int(n) for n in text.split("x")),
        default=SIZE,
        help="WIDTHxHEIGHT of the photo (default 4000x3000)",
    )
    # A quick run's photo still makes a HEIC grid (2 x 2 tiles of 512 px).
    args = parse_args(parser, runs=1, size=(800, 600))
    runs = max(1, min(args.runs, 20))
    limits = Limits()
    results: dict[str, dict[str, Any]] = {}
    for name, data in encodings(args.size).items():
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            encoded = sanitising._encode(data, limits)
            samples.append(time.perf_counter() - start)
        results[name] = {
            "upload_bytes": len(data),
            "stored_as": encoded.content_type,
            "stored_bytes": len(encoded.data),
            "median_s": round(statistics.median(samples), 3),
            "min_s": round(min(samples), 3),
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, r in results.items():
        print(
            f"{name:10} {r['upload_bytes'] / 1e6:5.2f} MB -> {r['stored_as']} "
            f"{r['stored_bytes'] / 1e6:5.2f} MB  median {r['median_s']:.3f} s  min {r['min_s']:.3f} s"
        )


if __name__ == "__main__":
    main()
