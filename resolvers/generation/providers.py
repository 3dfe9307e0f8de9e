"""The provider interface, and the HTTP habits every provider shares.

Every call has a connect/read/write timeout and an overall deadline; replies are read
with a size cap. Nothing here logs a header, a body or image bytes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from resolvers.config.generation import GenerationConfig
from resolvers.generation.errors import ProviderFailed
from resolvers.generation.pricing import Model, Quality, Size


@dataclass(frozen=True)
class ImageRequest:
    """What a provider is asked for; references are already clean PNGs, and the mask
    (if any) a prepared RGBA PNG of the first reference's size."""

    model: Model
    prompt: str
    size: Size
    quality: Quality
    n: int
    references: Sequence[bytes]
    # A clean PNG mask, only for a model whose provider `accepts_mask` it.
    mask: bytes | None = None


@dataclass(frozen=True)
class ProviderImages:
    """The provider's images (raw bytes, not yet trusted) and the model that made them."""

    images: list[bytes]
    model_used: str


class ImageProvider(Protocol):
    name: str

    def accepts_mask(self, model: str) -> bool:
        """Whether this provider can take an inpainting mask for the model (a model id)."""
        ...

    async def generate(self, request: ImageRequest) -> ProviderImages:
        """Raise ProviderFailed with a short, safe detail on any failure."""
        ...


def http_client(config: GenerationConfig) -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        connect=config.connect_timeout_s,
        read=config.timeout_s,
        write=config.timeout_s,
        pool=config.connect_timeout_s,
    )
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self, provider: str) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProviderFailed(provider, "the reply was not valid JSON") from exc


async def post(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    config: GenerationConfig,
    **kwargs: Any,
) -> Reply:
    """POST with an overall deadline (a trickling reply cannot beat the read timeout)."""
    deadline = config.timeout_s + config.connect_timeout_s
    try:
        async with asyncio.timeout(deadline), client.stream("POST", url, **kwargs) as response:
            chunks: list[bytes] = []
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > config.max_reply_bytes:
                    raise ProviderFailed(provider, "the reply was larger than allowed")
                chunks.append(chunk)
            return Reply(response.status_code, b"".join(chunks))
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise ProviderFailed(provider, f"no answer within {deadline:g} s") from exc
    except httpx.HTTPError as exc:
        raise ProviderFailed(
            provider, f"could not reach the provider ({type(exc).__name__})"
        ) from exc


_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HINTS = {
    400: "the request was refused",
    401: "the API key was rejected",
    403: "access was denied",
    404: "the model or endpoint was not found",
    413: "the request was too large for the provider",
    429: "rate limited or out of quota",
}


def safe_token(value: object) -> str | None:
    """An error code from the reply, only if it is a plain identifier (no free text)."""
    return value if isinstance(value, str) and _TOKEN.match(value) else None


def http_failure(provider: str, reply: Reply, code: str | None = None) -> ProviderFailed:
    hint = _HINTS.get(reply.status, "provider error" if reply.status >= 500 else "unexpected reply")
    detail = f"HTTP {reply.status}, {hint}" + (f" ({code})" if code else "")
    return ProviderFailed(provider, detail)


def decode_b64(provider: str, value: object) -> bytes:
    if not isinstance(value, str) or not value:
        raise ProviderFailed(provider, "the reply carried no image data")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderFailed(provider, "the reply carried invalid base64 image data") from exc
