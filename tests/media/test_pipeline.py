"""The image pipeline itself: limits, the time bound, colour and pixel formats."""

from __future__ import annotations

import asyncio
import io
import threading
from typing import Any

import pytest
from PIL import Image, ImageCms

from resolvers.errors import InvalidInput, TooLarge
from resolvers.media import sanitising, transforms
from resolvers.stores import Limits
from testbed import media_samples as samples


def encoded_image(data: bytes, limits: Limits | None = None) -> Image.Image:
    out = sanitising._encode(data, limits or Limits())
    return Image.open(io.BytesIO(out.data))


def test_pixel_cap_is_exact() -> None:
    limits = Limits(max_image_pixels=100 * 100)
    assert sanitising._encode(samples.noisy_jpeg((100, 100)), limits).width == 100
    with pytest.raises(TooLarge) as caught:
        sanitising._encode(samples.noisy_jpeg((101, 100)), limits)
    assert "10000 pixels" in caught.value.message


def test_default_cap_is_about_40_megapixels() -> None:
    assert Limits().max_image_pixels == 40_000_000
    with pytest.raises(TooLarge):
        sanitising._encode(samples.jpeg_claiming(6400, 6400), Limits())  # 41 MP claimed


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_warning_is_an_error() -> None:
    # 100 MP: over Pillow's warning threshold (89.5 MP), under its own error (179 MP);
    # with our cap lifted, only the warning-turned-error stands in the way.
    assert Image.MAX_IMAGE_PIXELS is not None
    assert Image.MAX_IMAGE_PIXELS < 100_000_000 < 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(TooLarge):
        sanitising._encode(samples.jpeg_claiming(10000, 10000), Limits(max_image_pixels=10**9))


async def test_decoding_has_a_time_bound() -> None:
    big = samples.noisy_jpeg((3000, 2000), seed=1)
    with pytest.raises(sanitising.ImageRejected) as caught:
        await sanitising.encode_upload(big, Limits(decode_timeout_s=0.001))
    assert caught.value.reason is sanitising.Rejection.TIMEOUT


async def test_decoding_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The event loop runs code while an image is inside the encoder: the encoder waits
    for the loop to say so, which it could not do if it held the loop itself."""
    big = samples.noisy_jpeg((3000, 2000), seed=2)
    inside, loop_ran = threading.Event(), threading.Event()
    real = sanitising._encode

    def encode_once_the_loop_ran(data: bytes, limits: Limits) -> Any:
        inside.set()
        assert loop_ran.wait(60), "the event loop stood still while the image was encoded"
        return real(data, limits)

    monkeypatch.setattr(sanitising, "_encode", encode_once_the_loop_ran)
    upload = asyncio.create_task(sanitising.encode_upload(big, Limits(decode_timeout_s=120)))
    # Waited for on another thread, so the loop stays free for the upload's worker.
    assert await asyncio.get_running_loop().run_in_executor(None, inside.wait, 60)
    loop_ran.set()  # this line runs on the loop while the encoder is inside
    encoded = await upload
    assert encoded == real(big, Limits())


async def test_empty_and_oversized_files_are_refused_before_decoding() -> None:
    with pytest.raises(InvalidInput):
        await sanitising.encode_upload(b"", Limits())
    with pytest.raises(TooLarge):
        await sanitising.encode_upload(
            b"\xff\xd8\xff" + b"\0" * 2000, Limits(max_upload_bytes=1000)
        )


def test_truncated_jpeg_is_corrupt() -> None:
    with pytest.raises(sanitising.ImageRejected) as caught:
        sanitising._encode(samples.noisy_jpeg((400, 300))[:600], Limits())
    assert caught.value.reason is sanitising.Rejection.CORRUPT


def test_encoding_is_deterministic_so_dedupe_works() -> None:
    data = samples.jpeg_with_metadata("DET")
    assert sanitising._encode(data, Limits()) == sanitising._encode(data, Limits())


def test_palette_png_with_transparency_keeps_its_alpha() -> None:
    img = Image.new("P", (40, 20))
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.paste(1, (20, 0, 40, 20))
    out = io.BytesIO()
    img.save(out, "PNG", transparency=1)
    stored = encoded_image(out.getvalue())
    assert stored.mode == "RGBA" and stored.info == {}
    assert stored.getpixel((5, 5)) == (255, 0, 0, 255)
    assert stored.getpixel((30, 5))[3] == 0


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    img = Image.new("I;16", (20, 20), 32768)
    out = io.BytesIO()
    img.save(out, "PNG")
    stored = encoded_image(out.getvalue())
    assert stored.mode == "L" and 126 <= stored.getpixel((5, 5)) <= 129


def test_cmyk_jpeg_becomes_rgb() -> None:
    out = io.BytesIO()
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(out, "JPEG")
    stored = encoded_image(out.getvalue())
    assert stored.mode == "RGB"
    r, g, b = stored.getpixel((10, 10))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


def test_colour_profile_is_applied_then_dropped() -> None:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 100, 50)).save(
        out, "JPEG", icc_profile=samples.swapped_primaries_profile()
    )
    stored = encoded_image(out.getvalue())
    assert "icc_profile" not in stored.info
    # Displayed through its profile the upload is bluish; the stored sRGB pixels say so.
    r, g, b = stored.getpixel((5, 5))  # type: ignore[misc]
    assert b > 180 and r < 70 and 80 < g < 120


def test_srgb_profile_leaves_pixels_alone() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 100, 50)).save(out, "PNG", icc_profile=srgb)
    stored = encoded_image(out.getvalue())
    assert stored.getpixel((5, 5)) == (200, 100, 50) and stored.info == {}


def test_transform_names_are_canonical_and_bounded() -> None:
    spec = transforms.TransformSpec.build(
        320, None, transforms.Fit.COVER, transforms.OutputFormat.PNG, max_px=2048
    )
    assert spec.name == "w320-cover.png"
    assert transforms.TransformSpec.parse("w320-cover.png", max_px=2048) == spec
    for bad in (
        "w0320-cover.png",
        "w320h-cover.png",
        "-cover.png",
        "w4096-inside.webp",
        "w1-fill.webp",
    ):
        assert transforms.TransformSpec.parse(bad, max_px=2048) is None, bad
    with pytest.raises(InvalidInput):
        transforms.TransformSpec.build(None, None, max_px=2048)
    with pytest.raises(InvalidInput):
        transforms.TransformSpec.build(0, 10, max_px=2048)
