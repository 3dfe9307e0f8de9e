"""What a generation call asks for, and the checks it must pass before anything runs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from resolvers.errors import InvalidInput, TooLarge
from resolvers.generation.pricing import DEFAULT_MODEL, MODELS, Model, Quality, Size
from storage.tables import GENERATION_ENCRYPTED

# The prompt is stored encrypted; its bound is declared with the column.
MAX_PROMPT = GENERATION_ENCRYPTED["prompt"].max_chars
MAX_REFERENCES = 8
MAX_IMAGES = 4
MAX_IDEMPOTENCY_KEY = 128
# Printable ASCII without spaces: UUIDs, ULIDs, base64 and hex all fit.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    reference_ids: Sequence[str]
    model: str = DEFAULT_MODEL
    quality: str = Quality.MEDIUM.value
    size: str = Size.SQUARE.value
    n: int = 1
    idempotency_key: str | None = None
    # An inpainting mask as uploaded (any image with alpha; prepared later, with the
    # first reference); at most the upload size limit.
    mask: bytes | None = None


@dataclass(frozen=True)
class ValidRequest:
    """A request that passed `validate`: normalised, with its model looked up."""

    prompt: str
    reference_ids: list[str]
    model: Model
    quality: Quality
    size: Size
    n: int
    idempotency_key: str | None = None
    mask: bytes | None = None

    @property
    def input_hash(self) -> str:
        """SHA-256 of the normalised input: what a retry with the same key must repeat."""
        normalised: dict[str, object] = {
            "prompt": self.prompt,
            "referenceIds": self.reference_ids,
            "model": self.model.id,
            "quality": self.quality.value,
            "size": self.size.value,
            "n": self.n,
        }
        if self.mask is not None:
            # Only with a mask, so the hashes of calls without one stay what they were.
            normalised["mask"] = hashlib.sha256(self.mask).hexdigest()
        text = json.dumps(normalised, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()


def _validate_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput(
            f"idempotencyKey is 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters "
            "without spaces (a UUID fits)",
            field="idempotencyKey",
        )
    return key


def _validate_mask(mask: bytes | None, max_bytes: int) -> bytes | None:
    if mask is None:
        return None
    if not mask:
        raise InvalidInput("the mask is empty", field="mask")
    if len(mask) > max_bytes:
        raise TooLarge(f"the mask is larger than {max_bytes} bytes", max_bytes)
    return mask


def validate(
    request: GenerationRequest,
    models: Mapping[str, Model] = MODELS,
    *,
    max_mask_bytes: int = 10 * 1024 * 1024,
) -> ValidRequest:
    prompt = request.prompt.strip()
    if not prompt:
        raise InvalidInput("the prompt is empty", field="prompt")
    if len(prompt) > MAX_PROMPT:
        raise InvalidInput(f"the prompt is longer than {MAX_PROMPT} characters", field="prompt")
    ids = [str(i) for i in request.reference_ids]
    if not 1 <= len(ids) <= MAX_REFERENCES:
        raise InvalidInput(
            f"give between 1 and {MAX_REFERENCES} reference images", field="referenceImageIds"
        )
    if len(set(ids)) != len(ids):
        raise InvalidInput("each reference image may be given once", field="referenceImageIds")
    model = models.get(request.model)
    if model is None:
        raise InvalidInput(
            f"unknown model; one of: {', '.join(models)}",
            field="model",
        )
    if model.references is not None and len(ids) != model.references:
        raise InvalidInput(
            f"{model.id} takes exactly {model.references} reference image"
            + ("s" if model.references != 1 else ""),
            field="referenceImageIds",
        )
    try:
        quality = Quality(request.quality)
    except ValueError:
        raise InvalidInput("quality is one of low, medium, high", field="quality") from None
    try:
        size = Size(request.size)
    except ValueError:
        raise InvalidInput(
            "size is one of 1024x1024, 1536x1024, 1024x1536, auto", field="size"
        ) from None
    if not 1 <= request.n <= MAX_IMAGES:
        raise InvalidInput(f"n is between 1 and {MAX_IMAGES}", field="n")
    if request.n > model.max_n:
        raise InvalidInput(
            f"{model.id} makes at most {model.max_n} image"
            + ("s" if model.max_n != 1 else "")
            + " per call",
            field="n",
        )
    key = _validate_key(request.idempotency_key)
    mask = _validate_mask(request.mask, max_mask_bytes)
    return ValidRequest(prompt, ids, model, quality, size, request.n, key, mask)
