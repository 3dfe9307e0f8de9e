"""OpenAI images API (and any OpenAI-compatible server): one multipart POST to /v1/images/edits."""

from __future__ import annotations

import logging
from typing import Any

from resolvers.config.generation import GenerationConfig, ProviderEndpoint
from resolvers.generation.errors import OrganizationNotVerified, ProviderFailed
from resolvers.generation.pricing import MODELS, Model
from resolvers.generation.providers import (
    ImageRequest,
    ProviderImages,
    Reply,
    decode_b64,
    http_client,
    http_failure,
    post,
    safe_token,
)

log = logging.getLogger("meimages.generation.openai")

NAME = "openai"


class OpenAIProvider:
    name = NAME

    def __init__(self, endpoint: ProviderEndpoint, config: GenerationConfig) -> None:
        self.endpoint = endpoint
        self.config = config

    def accepts_mask(self, model: str) -> bool:
        # /v1/images/edits takes a `mask` part for every image model.
        return True

    async def generate(self, request: ImageRequest) -> ProviderImages:
        async with http_client(self.config) as client:
            try:
                return await self._edit(client, request.model, request)
            except OrganizationNotVerified:
                if request.model.fallback is None:
                    raise
                fallback = MODELS[request.model.fallback]
                log.warning(
                    "%s refused: organisation not verified; retrying once on %s",
                    request.model.id,
                    fallback.id,
                )
                return await self._edit(client, fallback, request)

    async def _edit(self, client: Any, model: Model, request: ImageRequest) -> ProviderImages:
        fields = {
            "model": model.provider_model,
            "prompt": request.prompt,
            "size": request.size.value,
            "quality": request.quality.value,
            "n": str(request.n),
        }
        # gpt-image models want the array form `image[]`, even for a single reference.
        files = [
            ("image[]", (f"reference-{i}.png", png, "image/png"))
            for i, png in enumerate(request.references, start=1)
        ]
        if request.mask is not None:
            # Applies to the first image: transparent pixels mark what may change.
            files.append(("mask", ("mask.png", request.mask, "image/png")))
        headers = {"Accept": "application/json"}
        if self.endpoint.api_key:
            headers["Authorization"] = f"Bearer {self.endpoint.api_key}"
        reply = await post(
            client,
            NAME,
            self.endpoint.url("/v1/images/edits"),
            self.config,
            data=fields,
            files=files,
            headers=headers,
        )
        if reply.status != 200:
            raise _failure(reply, model)
        body = reply.json(NAME)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            raise ProviderFailed(NAME, "the reply listed no images")
        images = [
            decode_b64(NAME, item.get("b64_json") if isinstance(item, dict) else None)
            for item in data[: request.n]
        ]
        return ProviderImages(images=images, model_used=model.id)


def _failure(reply: Reply, model: Model) -> ProviderFailed:
    error: dict[str, Any] = {}
    try:
        parsed = reply.json(NAME)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = parsed["error"]
    except ProviderFailed:
        pass
    message = str(error.get("message") or "").lower()
    # Read to classify, never repeated: OpenAI's messages can echo part of the key.
    if reply.status in (400, 403) and "verif" in message and "organi" in message:
        return OrganizationNotVerified(NAME, model.id)
    return http_failure(NAME, reply, safe_token(error.get("code")) or safe_token(error.get("type")))
