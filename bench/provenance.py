"""Provenance benchmark: what signing costs per generated output, in time and in bytes.

    .venv/bin/python -m bench.provenance [--runs 9] [--side 1024] [--json]

For each kind of output a provider returns (1024x1024 and 1536x1024 PNG, a 1024x1024
JPEG, and a PNG carrying the provider's own C2PA manifest), in this process:

- `sign`: embedding and signing our manifest (c2pa, ES256, no timestamp authority);
- `read provider`: looking for (and validating) the provider's manifest;
- `keep output`: the whole per-output step of `keep_outputs` before storage (decode,
  re-encode with XMP, read, sign, two WebP renditions), next to the same step without
  any marking (what storing an output cost before);
- bytes added: the XMP packet, and the manifest (with the provider's when it had one).

Every run uses different pixels. The figures are medians (and p90) of `--runs` runs.
`--side` scales the outputs (1024: the sizes above; a quick run uses 256).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw

from bench.short import parse_args
from resolvers.config.signing import SigningIdentity
from resolvers.generation import provenance
from resolvers.generation.outputs import mark_output
from resolvers.limits import Limits
from resolvers.media.sanitising import canonical, decode, save_as, stored_format, with_variants
from resolvers.media.source_type import xmp_packet
from testbed.content_credentials import make_certificate, provider_signer

ORIGIN = provenance.Origin("openai", "openai/gpt-image-1")


def picture(size: tuple[int, int], fmt: str, seed: int) -> bytes:
    """A generated-looking picture: gradients, shapes and noise, different per seed."""
    w, h = size
    img = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((w, h)),
            Image.radial_gradient("L").resize((w, h)),
            Image.effect_noise((w, h), 30).convert("L"),
        ),
    )
    draw = ImageDraw.Draw(img)
    for i in range(6):
        box = (w * i // 14 + seed, h * i // 14, w - w * i // 14, h - h * i // 14 + seed)
        draw.ellipse(box, outline=((seed * 40 + i * 30) % 256, 200 - i * 20, i * 40), width=8)
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": 92} if fmt == "JPEG" else {"compress_level": 6}))
    return out.getvalue()


def unmarked(data: bytes, limits: Limits) -> bytes:
    """The output step as it was before: re-encode and renditions, no mark, no manifest."""
    decoded, fmt = decode(data, limits)
    img = canonical(decoded)
    fmt = stored_format(fmt, img)
    return with_variants(img, save_as(img, fmt, quality=90), fmt, limits).data


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 2),
    }


def run_case(
    name: str, make: Callable[[int], bytes], content_type: str, runs: int
) -> dict[str, Any]:
    limits, identity = Limits(), SigningIdentity.ephemeral()
    sign_s, read_s, keep_s, plain_s = [], [], [], []
    xmp_bytes, manifest_bytes, provider_bytes = [], [], []
    for seed in range(runs):
        data = make(seed)
        decoded, fmt = decode(data, limits)
        img = canonical(decoded)
        fmt = stored_format(fmt, img)
        stored_type = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
        bare = save_as(img, fmt, quality=90)
        marked = save_as(img, fmt, quality=90, xmp=xmp_packet())
        seconds, found = timed(provenance.provider_credentials, data, content_type)
        read_s.append(seconds)
        parent = (data, content_type) if found else None
        seconds, signed = timed(
            provenance.sign, identity, marked, stored_type, ORIGIN, provider_output=parent
        )
        sign_s.append(seconds)
        xmp_bytes.append(len(marked) - len(bare))
        manifest_bytes.append(len(signed) - len(marked))
        provider_bytes.append(len(data))
        keep_s.append(timed(mark_output, data, content_type, limits, identity, ORIGIN)[0])
        plain_s.append(timed(unmarked, data, limits)[0])
    keep, plain = stats(keep_s), stats(plain_s)
    return {
        "case": name,
        "provider_bytes": int(statistics.median(provider_bytes)),
        "xmp_bytes_added": int(statistics.median(xmp_bytes)),
        "manifest_bytes_added": int(statistics.median(manifest_bytes)),
        "sign": stats(sign_s),
        "read_provider": stats(read_s),
        "keep_output": keep,
        "keep_output_unmarked": plain,
        "added_ms": round(keep["median_ms"] - plain["median_ms"], 2),
    }


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--side", type=int, default=1024, help="height of the outputs (the sizes providers return)"
    )
    # A quick run's outputs are smaller: PNG encoding of the full sizes is most of its time.
    args = parse_args(parser, runs=1, side=256)
    with_credentials = provider_signer(make_certificate())
    square, wide = (args.side, args.side), (args.side * 3 // 2, args.side)
    cases = [
        (f"png {_size(square)}", lambda s: picture(square, "PNG", s), "image/png"),
        (f"png {_size(wide)}", lambda s: picture(wide, "PNG", s), "image/png"),
        (f"jpeg {_size(square)}", lambda s: picture(square, "JPEG", s), "image/jpeg"),
        (
            f"png {_size(square)} + provider manifest",
            lambda s: with_credentials(picture(square, "PNG", s)),
            "image/png",
        ),
    ]
    results = [run_case(name, make, ctype, args.runs) for name, make, ctype in cases]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{'case':36} {'sign ms':>8} {'read ms':>8} {'keep ms':>8} {'before':>8} "
        f"{'added':>7} {'xmp B':>6} {'c2pa B':>7}"
    )
    for r in results:
        print(
            f"{r['case']:36} {r['sign']['median_ms']:8.1f} {r['read_provider']['median_ms']:8.1f} "
            f"{r['keep_output']['median_ms']:8.1f} {r['keep_output_unmarked']['median_ms']:8.1f} "
            f"{r['added_ms']:7.1f} {r['xmp_bytes_added']:6d} {r['manifest_bytes_added']:7d}"
        )


if __name__ == "__main__":
    main()
