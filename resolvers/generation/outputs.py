"""Keeping a generation's outputs: each checked to be an image, marked as AI-generated and
signed, then stored as media of the caller (app `picture`); what cannot be stored comes
back inline, never lost.

This is the one place every provider's output passes, so the one place outputs are
signed: the pixels are re-encoded as uploads are (nothing else of the provider's file is
kept but its Content Credentials), with the IPTC digital source type in XMP, then a C2PA
manifest is embedded (see `provenance`). The stored original is exactly the signed file;
its thumbnail and medium renditions carry the XMP mark only (README "Provenance").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from resolvers.config.signing import SigningIdentity
from resolvers.errors import DomainError
from resolvers.generation import provenance
from resolvers.generation.errors import ProviderFailed
from resolvers.generation.history import OutputImage
from resolvers.limits import Limits
from resolvers.media.sanitising import (
    EncodedImage,
    ImageRejected,
    Rejection,
    canonical,
    decode,
    in_worker,
    save_as,
    stored_format,
    with_variants,
)
from resolvers.media.source_type import TRAINED_ALGORITHMIC_MEDIA, xmp_packet
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


@dataclass(frozen=True)
class MarkedOutput:
    """One output ready to store: the signed original and its marked renditions."""

    image: EncodedImage
    # None only when signing failed: the image then carries the XMP mark alone.
    credentials: provenance.ContentCredentials | None


def mark_output(
    data: bytes,
    content_type: str,
    limits: Limits,
    identity: SigningIdentity,
    origin: provenance.Origin,
) -> MarkedOutput:
    """Re-encode the provider's image with the XMP mark and sign it (CPU-bound: runs in
    the image worker pool)."""
    decoded, decoded_format = decode(data, limits)
    img = canonical(decoded)
    fmt = stored_format(decoded_format, img)
    stored_type = _OUTPUT_FORMATS[fmt]
    xmp = xmp_packet()
    marked = save_as(img, fmt, quality=90, xmp=xmp)
    from_provider = provenance.provider_credentials(data, content_type)
    # Keep the provider's manifest when there is one; if the library cannot take it in,
    # sign without it rather than not at all (and do not claim to have kept it); if even
    # that fails (a fault), the image carries the XMP mark alone.
    attempts: list[tuple[provenance.ProviderCredentials | None, tuple[bytes, str] | None]] = []
    if from_provider is not None:
        attempts.append((from_provider, (data, content_type)))
    attempts.append((None, None))
    for provider, parent in attempts:
        signed_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        try:
            signed = provenance.sign(
                identity, marked, stored_type, origin, provider_output=parent, signed_at=signed_at
            )
        except provenance.SigningFailed:
            log.warning(
                "could not sign a generated image (provider manifest: %s)",
                parent is not None,
                exc_info=True,
            )
            continue
        credentials = provenance.ContentCredentials(
            TRAINED_ALGORITHMIC_MEDIA, identity.signer, signed_at, provider
        )
        return MarkedOutput(with_variants(img, signed, fmt, limits, xmp=xmp), credentials)
    log.error("a generated image could not be signed; it carries the XMP mark only")
    return MarkedOutput(with_variants(img, marked, fmt, limits, xmp=xmp), None)


async def _mark_all(
    stores: Stores, provider_name: str, model_used: str, images: list[bytes]
) -> list[MarkedOutput]:
    # Check every image first, so a bad one fails the call before anything is stored.
    try:
        shapes = [
            await asyncio.to_thread(_inspect, data, stores.config.limits.max_image_pixels)
            for data in images
        ]
        origin = provenance.Origin(provider_name, model_used)
        return [
            await in_worker(
                stores.config.limits,
                mark_output,
                data,
                shape[0],
                stores.config.limits,
                stores.config.signing,
                origin,
            )
            for data, shape in zip(images, shapes, strict=True)
        ]
    except ImageRejected as rejected:
        if rejected.reason is Rejection.TIMEOUT:
            # Never handed out unmarked: the call fails (and is not charged).
            raise ProviderFailed(
                provider_name, "the images could not be marked and signed in time"
            ) from None
        raise ProviderFailed(
            provider_name, "the reply contained data that is not an image"
        ) from None
    except (ValueError, DomainError):
        raise ProviderFailed(
            provider_name, "the reply contained data that is not an image"
        ) from None


async def keep_outputs(
    stores: Stores, caller: Caller, provider_name: str, model_used: str, images: list[bytes]
) -> tuple[list[OutputImage], str | None, list[bytes]]:
    """Mark, sign and store each output as the caller's media; what cannot be stored comes
    back inline. Also returns each output's signed bytes (what a caller that cannot
    record the generation hands out instead)."""
    marked = await _mark_all(stores, provider_name, model_used, images)
    outputs: list[OutputImage] = []
    inline = 0
    for index, output in enumerate(marked):
        image, credentials = output.image, output.credentials
        try:
            media = await store_image(stores, caller, image.data, app=APP_PICTURE, prepared=image)
        except Exception:
            # The provider already produced (and billed) this image: never lose it.
            log.exception("could not store generated image %d; returning it inline", index)
            outputs.append(
                OutputImage(
                    index,
                    image.content_type,
                    image.width,
                    image.height,
                    inline=image.data,
                    credentials=credentials,
                )
            )
            inline += 1
            continue
        outputs.append(
            OutputImage(
                index,
                media.content_type,
                media.width,
                media.height,
                media.id,
                credentials=credentials,
            )
        )
    notes = []
    if inline:
        notes.append(
            f"{inline} of {len(images)} images could not be stored; they are included inline "
            "(base64) in this response only - save them now"
        )
    unsigned = sum(1 for o in marked if o.credentials is None)
    if unsigned:
        notes.append(
            f"{unsigned} of {len(images)} images could not be signed; they are marked as "
            "AI-generated in their metadata only"
        )
    warning = "; ".join(notes) or None
    return outputs, warning, [o.image.data for o in marked]


def output_json(outputs: Sequence[OutputImage]) -> list[dict[str, Any]]:
    return [
        {
            "index": o.index,
            "mediaId": o.media_id,
            "contentType": o.content_type,
            "width": o.width,
            "height": o.height,
            "credentials": o.credentials.to_json() if o.credentials else None,
        }
        for o in outputs
        if o.media_id is not None
    ]
