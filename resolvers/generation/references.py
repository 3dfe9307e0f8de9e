"""Turning a stored reference into what a provider may see: a clean RGB PNG.

Clean means: orientation applied, long side at most 1024 px (aspect kept, never
enlarged), alpha flattened onto white, and nothing but pixels - a fresh image is built
from the pixel data, so no EXIF, GPS, XMP, ICC profile, text chunk or dpi survives.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError


class UnreadableReference(Exception):
    """The stored bytes are not a decodable image within the limits."""


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        img = img.convert("I")
    if img.mode in ("I", "F"):
        # 16-bit and float greyscale: scale to 8 bits instead of clipping to white.
        img = img.point(lambda v: v * (1 / 256)).convert("L")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def clean_reference_png(data: bytes, *, long_side: int = 1024, max_pixels: int) -> bytes:
    """Decode, orient, shrink and re-encode as PNG with IHDR/IDAT/IEND only."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img: Image.Image = Image.open(io.BytesIO(data))
            if img.width * img.height > max_pixels:
                raise UnreadableReference("too many pixels")
            img.load()
        except (
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
            OSError,
            SyntaxError,
            ValueError,
        ) as exc:
            raise UnreadableReference(type(exc).__name__) from exc
    img = ImageOps.exif_transpose(img)
    rgb = _flatten(img)
    rgb.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    # Pixels only: a new image has an empty info dict, so the encoder has nothing to copy.
    bare = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    out = io.BytesIO()
    bare.save(out, "PNG", compress_level=6)
    return out.getvalue()


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk_types(data: bytes) -> list[str]:
    """The chunk types of a PNG, in order (used to prove nothing but pixels is sent)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    pos, types = len(PNG_SIGNATURE), []
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        types.append(data[pos + 4 : pos + 8].decode("latin-1"))
        pos += 12 + length
    return types
