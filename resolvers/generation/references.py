"""Turning a stored reference into what a provider may see: a clean RGB PNG; and an
inpainting mask into one that fits it.

Clean means: orientation applied, long side at most 1024 px (aspect kept, never
enlarged), alpha flattened onto white, and nothing but pixels - a fresh image is built
from the pixel data, so no EXIF, GPS, XMP, ICC profile, text chunk or dpi survives.

A mask is an image with an alpha channel whose transparent pixels mark what may change;
it is scaled to the prepared first reference and sent as a black RGBA PNG whose alpha is
either 0 (may change) or 255 (stays), built the same way from pixels only.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError


class UnreadableReference(Exception):
    """The stored bytes are not a decodable image within the limits."""


class UnusableMask(Exception):
    """The mask breaks one of its rules; the message says which, for the person."""


# Mask and reference may differ by this much in aspect ratio (rounding when a client
# draws the mask at another size than the reference).
MASK_ASPECT_TOLERANCE = 0.01


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Decode within the pixel limit; any failure is UnreadableReference."""
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
    return img


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    )


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        img = img.convert("I")
    if img.mode in ("I", "F"):
        # 16-bit and float greyscale: scale to 8 bits instead of clipping to white.
        img = img.point(lambda v: v * (1 / 256)).convert("L")
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def clean_reference_png(data: bytes, *, long_side: int = 1024, max_pixels: int) -> bytes:
    """Decode, orient, shrink and re-encode as PNG with IHDR/IDAT/IEND only."""
    img = ImageOps.exif_transpose(_open(data, max_pixels))
    rgb = _flatten(img)
    rgb.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    # Pixels only: a new image has an empty info dict, so the encoder has nothing to copy.
    bare = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    out = io.BytesIO()
    bare.save(out, "PNG", compress_level=6)
    return out.getvalue()


def prepare_mask(data: bytes, reference: tuple[int, int], *, max_pixels: int) -> bytes:
    """The mask for a reference prepared to `reference` (width, height): UnusableMask
    unless it decodes, has an alpha channel, has the reference's aspect ratio and marks
    at least one pixel as changeable."""
    try:
        img = ImageOps.exif_transpose(_open(data, max_pixels))
    except UnreadableReference:
        raise UnusableMask("the mask is not an image this server can read") from None
    if not _has_alpha(img):
        raise UnusableMask(
            "the mask has no alpha channel: make the parts that may change transparent "
            "(a PNG with transparency)"
        )
    width, height = reference
    if abs(img.width * height - img.height * width) > MASK_ASPECT_TOLERANCE * img.height * width:
        raise UnusableMask(
            f"the mask is {img.width}x{img.height}; it must have the aspect ratio of the "
            f"first reference image ({width}x{height} as prepared)"
        )
    alpha = img.convert("RGBA").getchannel("A").resize((width, height), Image.Resampling.BILINEAR)
    # Two levels only: transparent (may change) or opaque (stays), as the provider reads it.
    alpha = alpha.point(lambda v: 255 if v >= 128 else 0)
    if alpha.getextrema()[0] != 0:
        raise UnusableMask("the mask has no transparent pixel, so nothing could change")
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.putalpha(alpha)
    out = io.BytesIO()
    mask.save(out, "PNG", compress_level=9)
    return out.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR, without decoding it."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


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
