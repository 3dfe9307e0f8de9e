"""Keeping a generation's outputs: each checked to be an image, then stored as media of
the caller (app `picture`); what cannot be stored comes back inline, never lost."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from typing import Any

from PIL import Image, UnidentifiedImageError

from resolvers.generation.errors import ProviderFailed
from resolvers.generation.history import OutputImage
from resolvers.media.uploads import store_image
from resolvers.stores import Caller, Stores
from storage.repositories.media import APP_PICTURE

log = logging.getLogger("meimages.generation")

_OUTPUT_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def _inspect(data: bytes, max_pixels: int) -> tuple[str, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            if fmt not in _OUTPUT_FORMATS or img.width * img.height > max_pixels:
                raise ValueError(fmt)
            img.load()
            return _OUTPUT_FORMATS[fmt], img.width, img.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValueError("not an image") from None


async def keep_outputs(
    stores: Stores, caller: Caller, provider_name: str, images: list[bytes]
) -> tuple[list[OutputImage], str | None]:
    """Store each output as the caller's media; what cannot be stored comes back inline."""
    # Check every image first, so a bad one fails the call before anything is stored.
    try:
        shapes = [
            await asyncio.to_thread(_inspect, data, stores.limits.max_image_pixels)
            for data in images
        ]
    except ValueError:
        raise ProviderFailed(
            provider_name, "the reply contained data that is not an image"
        ) from None
    outputs: list[OutputImage] = []
    inline = 0
    for index, (data, (content_type, width, height)) in enumerate(zip(images, shapes, strict=True)):
        try:
            media = await store_image(stores, caller, data, app=APP_PICTURE)
        except Exception:
            # The provider already produced (and billed) this image: never lose it.
            log.exception("could not store generated image %d; returning it inline", index)
            outputs.append(OutputImage(index, content_type, width, height, inline=data))
            inline += 1
            continue
        outputs.append(OutputImage(index, media.content_type, media.width, media.height, media.id))
    warning = None
    if inline:
        warning = (
            f"{inline} of {len(images)} images could not be stored; they are included inline "
            "(base64) in this response only - save them now"
        )
    return outputs, warning


def output_json(outputs: Sequence[OutputImage]) -> list[dict[str, Any]]:
    return [
        {
            "index": o.index,
            "mediaId": o.media_id,
            "contentType": o.content_type,
            "width": o.width,
            "height": o.height,
        }
        for o in outputs
        if o.media_id is not None
    ]
