"""Variants of a stored image: on-the-fly transforms (width, height, fit, format), named
canonically (`w320h240-cover.webp`) so each is made once and kept."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from PIL import Image, ImageOps

from resolvers.errors import InvalidInput
from resolvers.limits import Limits
from resolvers.media.sanitising import canonical, decode, fit_inside, jpeg_ready, save_as
from resolvers.media.source_type import source_type_of, xmp_packet


class Fit(enum.StrEnum):
    COVER = "cover"  # exactly width x height, cropped to fill
    CONTAIN = "contain"  # exactly width x height, letterboxed
    INSIDE = "inside"  # within width x height, aspect kept, never enlarged


class OutputFormat(enum.StrEnum):
    WEBP = "webp"
    PNG = "png"
    JPEG = "jpeg"


_TRANSFORM = re.compile(
    r"^(?:w([1-9][0-9]{0,3}))?(?:h([1-9][0-9]{0,3}))?-(cover|contain|inside)\.(webp|png|jpeg)$"
)


@dataclass(frozen=True)
class TransformSpec:
    """An on-the-fly rendition; its canonical name (`w320h240-cover.webp`) is the variant."""

    width: int | None
    height: int | None
    fit: Fit
    format: OutputFormat

    @property
    def name(self) -> str:
        w = f"w{self.width}" if self.width else ""
        h = f"h{self.height}" if self.height else ""
        return f"{w}{h}-{self.fit.value}.{self.format.value}"

    @property
    def content_type(self) -> str:
        return f"image/{self.format.value}"

    @classmethod
    def build(
        cls,
        width: int | None,
        height: int | None,
        fit: Fit = Fit.INSIDE,
        format: OutputFormat = OutputFormat.WEBP,
        *,
        max_px: int,
    ) -> TransformSpec:
        if width is None and height is None:
            raise InvalidInput("give a width, a height or both", field="width")
        for name, value in (("width", width), ("height", height)):
            if value is not None and not 1 <= value <= max_px:
                raise InvalidInput(f"{name} must be between 1 and {max_px}", field=name)
        return cls(width, height, fit, format)

    @classmethod
    def parse(cls, name: str, *, max_px: int) -> TransformSpec | None:
        """The spec a variant name stands for, or None; only canonical names parse."""
        match = _TRANSFORM.match(name)
        if match is None:
            return None
        width = int(match[1]) if match[1] else None
        height = int(match[2]) if match[2] else None
        if (width is None and height is None) or max(width or 0, height or 0) > max_px:
            return None
        return cls(width, height, Fit(match[3]), OutputFormat(match[4]))


def _target_size(spec: TransformSpec, src_w: int, src_h: int) -> tuple[int, int]:
    """The box a transform aims at; a missing side follows the source's aspect ratio."""
    want_w = spec.width or max(1, round(src_w * (spec.height or src_h) / src_h))
    want_h = spec.height or max(1, round(src_h * (spec.width or src_w) / src_w))
    return want_w, want_h


def render_variant(original: bytes, spec: TransformSpec, limits: Limits) -> bytes:
    def needed(src_w: int, src_h: int) -> tuple[int, int]:
        want_w, want_h = _target_size(spec, src_w, src_h)
        scale = max(want_w / src_w, want_h / src_h)
        if spec.fit is not Fit.COVER:
            scale = min(want_w / src_w, want_h / src_h)
        return max(1, round(src_w * scale)), max(1, round(src_h * scale))

    decoded, _fmt = decode(original, limits, draft=needed)
    # A generated image says so in every rendition too (uploads carry no XMP to find).
    source_type = source_type_of(decoded)
    want_w, want_h = _target_size(spec, *decoded.size)
    img = canonical(decoded)
    if spec.format is OutputFormat.JPEG:
        img = jpeg_ready(img)
    cap = limits.max_transform_px
    if spec.fit is Fit.INSIDE:
        out = fit_inside(img, spec.width or cap, spec.height or cap)
    else:
        box = (min(want_w, cap), min(want_h, cap))
        if spec.fit is Fit.COVER:
            out = ImageOps.fit(img, box, Image.Resampling.LANCZOS)
        else:
            fill = (255, 255, 255) if spec.format is OutputFormat.JPEG else None
            if fill is None:
                img = img.convert("RGBA") if img.mode in ("RGB", "RGBA") else img.convert("LA")
            out = ImageOps.pad(img, box, Image.Resampling.LANCZOS, color=fill)
    quality = 85 if spec.format is OutputFormat.JPEG else 82
    xmp = xmp_packet(source_type) if source_type else None
    return save_as(out, spec.format.name, quality=quality, xmp=xmp)


def medium_fallback(limits: Limits) -> TransformSpec:
    """What `medium` means for media stored before the medium variant existed."""
    return TransformSpec(limits.medium_px, limits.medium_px, Fit.INSIDE, OutputFormat.WEBP)


def is_variant(name: str, limits: Limits) -> bool:
    return name in ("original", "thumbnail", "medium") or (
        TransformSpec.parse(name, max_px=limits.max_transform_px) is not None
    )
