"""Cleaning references: whatever the stored bytes carry, the provider gets pixels only."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from resolvers.generation.pricing import MODELS, Quality, cost_of, hold_for
from resolvers.generation.references import (
    UnreadableReference,
    clean_reference_png,
    png_chunk_types,
)
from tests.support.provider_server import check_png

CANARY = "CANARY-3b9d"
MAX_PIXELS = 40_000_000


def save(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def with_exif(img: Image.Image, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = CANARY  # ImageDescription
    exif[0x0131] = CANARY  # Software
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[2] = (48.0, 51.0, 29.0)  # GPSLatitude
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return save(img, "JPEG", exif=exif.tobytes(), icc_profile=icc, comment=CANARY.encode())


def png_with_text(img: Image.Image) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", CANARY)
    info.add_text("Comment", CANARY, zip=True)
    info.add_itxt("XML:com.adobe.xmp", f"<x:xmpmeta>{CANARY}</x:xmpmeta>")
    exif = Image.Exif()
    exif[0x010E] = CANARY
    return save(img, "PNG", pnginfo=info, exif=exif.tobytes(), dpi=(300, 300))


SOURCES = {
    "jpeg-exif-gps-icc": lambda: with_exif(Image.new("RGB", (300, 200), (9, 99, 199))),
    "png-text-itxt-exif": lambda: png_with_text(Image.new("RGB", (300, 200), (9, 99, 199))),
    "png-rgba": lambda: png_with_text(Image.new("RGBA", (300, 200), (9, 99, 199, 0))),
    "png-palette-transparent": lambda: save(Image.new("P", (300, 200), 3), "PNG", transparency=3),
    "png-greyscale-alpha": lambda: save(Image.new("LA", (300, 200), (40, 255)), "PNG"),
    "png-16-bit": lambda: save(Image.new("I;16", (300, 200), 40000), "PNG"),
    "jpeg-cmyk": lambda: save(Image.new("CMYK", (300, 200), (0, 50, 100, 0)), "JPEG"),
    "webp-with-exif": lambda: save(
        Image.new("RGB", (300, 200), (1, 2, 3)), "WEBP", exif=Image.Exif().tobytes()
    ),
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_source_becomes_a_bare_rgb_png(source: str) -> None:
    cleaned = clean_reference_png(SOURCES[source](), max_pixels=MAX_PIXELS)
    assert check_png(cleaned, source) == []
    chunks = png_chunk_types(cleaned)
    assert chunks[0] == "IHDR" and chunks[-1] == "IEND"
    assert set(chunks) == {"IHDR", "IDAT", "IEND"}
    assert CANARY.encode() not in cleaned
    img = Image.open(io.BytesIO(cleaned))
    assert img.mode == "RGB" and img.size == (300, 200) and img.info == {}


def test_transparency_is_flattened_onto_white() -> None:
    clear = clean_reference_png(SOURCES["png-rgba"](), max_pixels=MAX_PIXELS)
    assert Image.open(io.BytesIO(clear)).getpixel((10, 10)) == (255, 255, 255)
    deep = clean_reference_png(SOURCES["png-16-bit"](), max_pixels=MAX_PIXELS)
    assert Image.open(io.BytesIO(deep)).getpixel((10, 10)) == (156, 156, 156)


def test_orientation_is_applied_before_the_metadata_goes() -> None:
    # Orientation 6: stored 300x200, shown rotated 90° clockwise, so 200x300 upright.
    cleaned = clean_reference_png(
        with_exif(Image.new("RGB", (300, 200)), orientation=6), max_pixels=MAX_PIXELS
    )
    assert Image.open(io.BytesIO(cleaned)).size == (200, 300)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((4000, 3000), (1024, 768)), ((900, 2700), (341, 1024)), ((1024, 1024), (1024, 1024))],
)
def test_long_side_is_at_most_1024_and_aspect_is_kept(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    cleaned = clean_reference_png(save(Image.new("RGB", size), "JPEG"), max_pixels=MAX_PIXELS)
    assert Image.open(io.BytesIO(cleaned)).size == expected


def test_unreadable_or_oversized_bytes_are_refused() -> None:
    with pytest.raises(UnreadableReference):
        clean_reference_png(b"not an image at all", max_pixels=MAX_PIXELS)
    with pytest.raises(UnreadableReference):
        clean_reference_png(save(Image.new("RGB", (400, 400)), "PNG"), max_pixels=100_000)


def test_prices_are_per_output_image_and_cover_the_fallback() -> None:
    gpt2 = MODELS["openai/gpt-image-2"]
    assert [gpt2.price(q) for q in Quality] == [3, 10, 25]
    assert hold_for(gpt2, Quality.HIGH, 4) == 100
    assert cost_of("openai/gpt-image-1", Quality.MEDIUM, 2) == 20
    # The source app's Google prices: flat per image, whatever the quality.
    assert hold_for(MODELS["google/gemini-2.5-flash-image"], Quality.LOW, 3) == 15
    assert cost_of("google/gemini-3.1-flash-image-preview", Quality.HIGH, 2) == 12
    assert cost_of("google/gemini-3-pro-image-preview", Quality.MEDIUM, 1) == 18
