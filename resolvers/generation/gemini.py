"""Google Gemini image models: generateContent with the references inline as base64."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx

from resolvers.config.generation import GenerationConfig, ProviderEndpoint
from resolvers.generation.errors import ProviderFailed
from resolvers.generation.pricing import Size
from resolvers.generation.providers import (
    ImageRequest,
    ProviderImages,
    decode_b64,
    http_client,
    http_failure,
    post,
    safe_token,
)

NAME = "gemini"
_ASPECT = {Size.SQUARE: "1:1", Size.LANDSCAPE: "3:2", Size.PORTRAIT: "2:3"}
# As the source app learned: "IMAGE alone is rejected; TEXT is required alongside". The
# text parts of the reply are skipped; only inline images are kept.
_MODALITIES = ["TEXT", "IMAGE"]
# About 1024 px on the long side, like the OpenAI sizes.
_IMAGE_SIZE = "1K"


class GeminiProvider:
    name = NAME

    def __init__(self, endpoint: ProviderEndpoint, config: GenerationConfig) -> None:
        self.endpoint = endpoint
        self.config = config

    def accepts_mask(self, model: str) -> bool:
        # generateContent has no mask input; a mask is refused before anything is held.
        return False

    def body(self, request: ImageRequest) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [{"text": request.prompt}]
        parts += [
            {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}}
            for png in request.references
        ]
        image_config: dict[str, str] = {"imageSize": _IMAGE_SIZE}
        if request.size in _ASPECT:
            image_config["aspectRatio"] = _ASPECT[request.size]
        config = {"responseModalities": _MODALITIES, "imageConfig": image_config}
        return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}

    async def generate(self, request: ImageRequest) -> ProviderImages:
        # One call answers with one image; n images are n calls, all or nothing.
        body = self.body(request)
        try:
            async with http_client(self.config) as client, asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._one(client, request, body)) for _ in range(request.n)
                ]
        except* ProviderFailed as failures:
            raise failures.exceptions[0] from None
        images = [image for task in tasks for image in task.result()]
        return ProviderImages(images=images[: request.n], model_used=request.model.id)

    async def _one(
        self, client: httpx.AsyncClient, request: ImageRequest, body: dict[str, Any]
    ) -> list[bytes]:
        headers = {"Content-Type": "application/json"}
        if self.endpoint.api_key:
            headers["x-goog-api-key"] = self.endpoint.api_key
        url = self.endpoint.url(f"/v1beta/models/{request.model.provider_model}:generateContent")
        reply = await post(client, NAME, url, self.config, json=body, headers=headers)
        if reply.status != 200:
            code = None
            try:
                parsed = reply.json(NAME)
                if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
                    code = safe_token(parsed["error"].get("status"))
            except ProviderFailed:
                pass
            raise http_failure(NAME, reply, code)
        parsed = reply.json(NAME)
        if not isinstance(parsed, dict):
            raise ProviderFailed(NAME, "the reply was not a JSON object")
        images: list[bytes] = []
        reasons: list[str] = []
        for candidate in parsed.get("candidates") or []:
            if not isinstance(candidate, dict):
                continue
            if reason := safe_token(candidate.get("finishReason")):
                reasons.append(reason)
            content = candidate.get("content")
            for part in (content.get("parts") if isinstance(content, dict) else None) or []:
                inline = (
                    part.get("inlineData") or part.get("inline_data")
                    if isinstance(part, dict)
                    else None
                )
                if isinstance(inline, dict):
                    images.append(decode_b64(NAME, inline.get("data")))
        if not images:
            feedback = parsed.get("promptFeedback")
            blocked = (
                safe_token(feedback.get("blockReason")) if isinstance(feedback, dict) else None
            )
            why = blocked or (reasons[0] if reasons else None)
            raise ProviderFailed(
                NAME, "the reply contained no image" + (f" ({why})" if why else "")
            )
        return images
