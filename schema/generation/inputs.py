"""Input types of the generation capability."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from resolvers.generation import pricing
from schema.generation.types import GenerationQuality, GenerationSize


@strawberry.input(description="A prompt and the caller's own consented reference images.")
class GenerationInput:
    prompt: str = strawberry.field(description="What to make (1 to 32000 characters).")
    reference_image_ids: list[strawberry.ID] = strawberry.field(
        description="1 to 8 MeImage ids of the caller, each opted in for AI use."
    )
    model: str = strawberry.field(
        default=pricing.DEFAULT_MODEL,
        description="Model id, see `generationModels` (default openai/gpt-image-2).",
    )
    quality: GenerationQuality = strawberry.field(
        default=GenerationQuality.MEDIUM, description="Quality; sets the price per image."
    )
    size: GenerationSize = strawberry.field(
        default=GenerationSize.SQUARE, description="Output size."
    )
    n: int = strawberry.field(default=1, description="Number of images, 1 to 4.")
    mask: Upload | None = strawberry.field(
        default=None,
        description="Inpainting mask (a file part of the multipart request): an image with an alpha channel, e.g. a PNG, whose transparent pixels mark what may change in the first reference; the same aspect ratio as that reference, at most the upload size limit. It is scaled with the reference (long side at most 1024 px), stripped of metadata, sent as the provider's `mask` and kept, encrypted, with the generation. Not every provider takes one (MaskNotSupportedError).",
    )
