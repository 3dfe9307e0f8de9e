"""Photo-like JPEGs of a given width: gradients and noise, so they weigh what a camera
photo of that size weighs; each seed differs, so nothing deduplicates."""

from __future__ import annotations

import io
import random

from PIL import Image


def photo(seed: int, side: int) -> bytes:
    """A 4:3 JPEG (quality 90), `side` pixels wide."""
    w, h = side, side * 3 // 4
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((w, h)),
            Image.radial_gradient("L").resize((w, h)),
            Image.linear_gradient("L").rotate(90).resize((w, h)),
        ),
    )
    img = Image.blend(base, Image.effect_noise((w, h), 24).convert("RGB"), 0.3)
    rnd = random.Random(seed)
    patch = Image.new("RGB", (64, 64), tuple(rnd.randrange(256) for _ in range(3)))
    img.paste(patch, (rnd.randrange(w - 64), rnd.randrange(h - 64)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()
