"""Real image files made by the tests, decoded by Pillow on the server."""

from __future__ import annotations

import io
import random

from PIL import Image


def make_image(
    fmt: str = "JPEG", size: tuple[int, int] = (320, 240), seed: int | None = None
) -> bytes:
    rnd = random.Random(seed)
    color = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
    img = Image.new("RGB", size, color)
    # A little structure so encoders do real work and different seeds differ.
    for _ in range(20):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        img.putpixel((x, y), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def jpeg(seed: int | None = None, size: tuple[int, int] = (320, 240)) -> bytes:
    return make_image("JPEG", size, seed)


def png(seed: int | None = None, size: tuple[int, int] = (320, 240)) -> bytes:
    return make_image("PNG", size, seed)


def webp(seed: int | None = None, size: tuple[int, int] = (320, 240)) -> bytes:
    return make_image("WEBP", size, seed)


def decompression_bomb() -> bytes:
    """A tiny PNG that claims 20000 x 20000 pixels (400 MP) of one bit each."""
    img = Image.new("1", (20000, 20000), 0)
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def jpeg_with_exif(canary: str) -> bytes:
    img = Image.new("RGB", (200, 100), (10, 20, 30))
    exif = Image.Exif()
    exif[0x010E] = canary  # ImageDescription
    exif[0x0112] = 6  # Orientation: rotate 90° CW when displayed
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img
