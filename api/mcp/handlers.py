"""What each tool does: parse its arguments, call the same resolver functions the GraphQL
fields call, and shape the answer. No rule lives here: consent, credits, limits and
records are the resolvers' (a tool that could change consent does not exist at all).
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from mcp import types

from api.mcp import results, tools
from resolvers.errors import DomainError, InvalidInput
from resolvers.generation import chaining, credits, history, service
from resolvers.generation.pricing import DEFAULT_MODEL, Quality, Size, catalogue
from resolvers.generation.requests import GenerationRequest
from resolvers.media import delivery
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.pool import me_images, profile
from resolvers.pool.me_images import Kind
from resolvers.stores import Caller, Stores
from storage.encrypted import EncryptedColumns

# The rendition sent as image content: small, WebP, made at upload time.
LIST_RENDITION = "thumbnail"
# Outputs are sent at most 1024 px on their long side (WebP), not as the provider's PNG.
OUTPUT_RENDITION = "medium"


@dataclass(frozen=True)
class ToolCall:
    """One call's caller and the server's stores; `base_url` makes media URLs absolute."""

    stores: Stores
    urls: MediaUrlSigner
    caller: Caller
    base_url: str = ""

    def url(self, media_id: str, variant: str) -> str:
        url = self.urls.url(media_id, variant, self.caller.owner_id)
        return self.base_url + url if url.startswith("/") else url


Handler = Callable[[ToolCall, Mapping[str, Any]], Awaitable[types.CallToolResult]]


@functools.cache
def _validators(model_ids: tuple[str, ...]) -> dict[str, jsonschema.Draft202012Validator]:
    listed = tools.with_models(model_ids)
    return {t.name: jsonschema.Draft202012Validator(t.inputSchema) for t in listed}


def _checked(call: ToolCall, name: str, arguments: Mapping[str, Any]) -> None:
    """The tool's input schema is the contract; the first violation is an INVALID_INPUT."""
    validator = _validators(tuple(catalogue(call.stores.config.generation)))[name]
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(arguments)))
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path) or None
        raise InvalidInput(f"invalid arguments: {error.message}"[:500], field=field)


async def call_tool(
    call: ToolCall, name: str, arguments: Mapping[str, Any]
) -> types.CallToolResult:
    handler = HANDLERS.get(name)
    if handler is None:
        return results.failure("NOT_FOUND", f"no tool named {name[:100]!r}")
    # Rate limits, when the server has them, belong here: one caller, one tool call.
    try:
        _checked(call, name, arguments)
        return await handler(call, arguments)
    except DomainError as error:
        return results.domain_failure(error)
    except Exception:
        return results.unexpected(name)


def reference_image(
    call: ToolCall, image: me_images.Image, declared: EncryptedColumns[Any] = me_images.ENCRYPTED
) -> dict[str, Any]:
    """An image in `me.listReferenceImages`' answer, with every declared encrypted field
    (`tools.reference_image_schema` describes it from the same declaration)."""
    return {
        "id": image.id,
        "mediaId": image.media.id,
        "kind": image.kind.value,
        **me_images.encrypted_json(image.encrypted, declared),
        "primaryFor": image.primary_for.value if image.primary_for else None,
        "publicUrl": call.url(image.media.id, "original"),
        "thumbnailUrl": call.url(image.media.id, "thumbnail"),
        "width": image.media.width,
        "height": image.media.height,
    }


async def list_reference_images(call: ToolCall, args: Mapping[str, Any]) -> types.CallToolResult:
    kind = Kind(args["kind"]) if "kind" in args else None
    images = await me_images.reference_images(call.stores, call.caller, kind)
    contents = []
    if args.get("includeImages", False):
        for image in images:
            rendition = await delivery.read_variant(call.stores, image.media, LIST_RENDITION)
            if rendition is not None:
                contents.append(results.image(rendition.data, rendition.content_type))
    return results.success({"images": [reference_image(call, i) for i in images]}, contents)


@dataclass(frozen=True)
class Usable:
    """What an agent may learn of the pool while listing generations: the images AI may
    use now (image id -> media id), and which outputs became such an image (output media
    id -> image id); nothing of any other image."""

    media_ids: Mapping[str, str]
    chained: Mapping[str, str]


async def _usable(call: ToolCall, generations: list[history.Generation]) -> Usable:
    images = await me_images.reference_images(call.stores, call.caller)
    outputs = [o.media_id for g in generations for o in g.images if o.media_id is not None]
    taken = await chaining.pool_images_of_outputs(call.stores, call.caller, outputs, images)
    return Usable({i.id: i.media.id for i in images}, {m: i.id for m, i in taken.items()})


def _mask(args: Mapping[str, Any]) -> bytes | None:
    if "mask" not in args:
        return None
    try:
        return base64.b64decode(args["mask"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("the mask is not valid base64", field="mask") from None


def _generation(call: ToolCall, generation: history.Generation, usable: Usable) -> dict[str, Any]:
    return {
        "generationId": generation.id,
        "status": generation.status.value,
        "prompt": generation.prompt,
        "model": generation.model_used,
        "modelRequested": generation.model_requested,
        "quality": generation.quality.value,
        "size": generation.size.value,
        "n": generation.n,
        "referenceImageIds": list(generation.reference_ids),
        "referenceMediaIds": [
            usable.media_ids[i] for i in generation.reference_ids if i in usable.media_ids
        ],
        "images": [
            {
                "mediaId": o.media_id,
                "imageUrl": call.url(o.media_id, "original") if o.media_id else None,
                "thumbnailUrl": call.url(o.media_id, "thumbnail") if o.media_id else None,
                "width": o.width,
                "height": o.height,
                "referenceImageId": usable.chained.get(o.media_id) if o.media_id else None,
                **results.generated_image(o),
            }
            for o in generation.images
        ],
        "masked": generation.mask is not None,
        "cost": generation.cost,
        "failure": generation.failure,
        "warning": generation.warning,
        "createdAt": generation.created_at.isoformat(),
        "completedAt": generation.completed_at.isoformat() if generation.completed_at else None,
    }


async def _output_content(call: ToolCall, output: history.OutputImage) -> types.ImageContent | None:
    if output.inline is not None:  # could not be stored: the bytes exist only here
        return results.image(output.inline, output.content_type, generated=True)
    if output.media_id is None:
        return None
    media = await delivery.find_servable_media(call.stores, output.media_id)
    if media is None:
        return None
    rendition = await delivery.read_variant(call.stores, media, OUTPUT_RENDITION)
    if rendition is None:
        return None
    return results.image(rendition.data, rendition.content_type, generated=True)


async def generate_with_reference(call: ToolCall, args: Mapping[str, Any]) -> types.CallToolResult:
    request = GenerationRequest(
        prompt=args["prompt"],
        reference_ids=list(args["referenceImageIds"]),
        model=args.get("model", DEFAULT_MODEL),
        quality=args.get("quality", Quality.MEDIUM.value),
        size=args.get("size", Size.SQUARE.value),
        n=args.get("n", 1),
        idempotency_key=args.get("idempotencyKey"),
        mask=_mask(args),
    )
    generation = await service.generate_with_reference(call.stores, call.caller, request)
    usable = await _usable(call, [generation])
    images = [await _output_content(call, o) for o in generation.images]
    return results.success(
        _generation(call, generation, usable), [i for i in images if i is not None]
    )


async def get_profile(call: ToolCall, args: Mapping[str, Any]) -> types.CallToolResult:
    settings = await profile.get_profile(call.stores, call.caller)
    live = await me_images.list_images(call.stores, call.caller)
    usable = await me_images.reference_images(call.stores, call.caller)
    live_kinds, usable_kinds = Counter(i.kind for i in live), Counter(i.kind for i in usable)
    return results.success(
        {
            "ownerId": settings.owner_id,
            "spaceId": settings.space_id,
            "credits": await credits.balance(call.stores, call.caller.owner_id),
            "aiUsesReferenceImages": settings.ai_uses_reference_images,
            "imageCounts": {k.value: live_kinds[k] for k in Kind},
            "referenceImageCounts": {k.value: usable_kinds[k] for k in Kind},
        }
    )


async def list_generations(call: ToolCall, args: Mapping[str, Any]) -> types.CallToolResult:
    first = int(args.get("first", 20))
    page = await history.list_generations(call.stores, call.caller, first, args.get("after"))
    usable = await _usable(call, page.items)
    return results.success(
        {
            "generations": [_generation(call, g, usable) for g in page.items],
            "nextCursor": page.end_cursor if page.has_next else None,
        }
    )


HANDLERS: dict[str, Handler] = {
    tools.LIST_REFERENCE_IMAGES: list_reference_images,
    tools.GENERATE_WITH_REFERENCE: generate_with_reference,
    tools.GET_PROFILE: get_profile,
    tools.LIST_GENERATIONS: list_generations,
}

__all__ = ["HANDLERS", "ToolCall", "call_tool"]
