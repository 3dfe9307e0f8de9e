"""The tools agents see: names, descriptions, input and output schemas, annotations.

Every bound comes from the rule that enforces it (prompt length, reference count, models,
page size), so the schema an agent reads cannot drift from what the server accepts.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from mcp import types

from resolvers.config.generation import GenerationConfig
from resolvers.generation.history import MAX_PAGE
from resolvers.generation.pricing import DEFAULT_MODEL, MODELS, Quality, Size, catalogue
from resolvers.generation.requests import (
    MAX_IDEMPOTENCY_KEY,
    MAX_IMAGES,
    MAX_PROMPT,
    MAX_REFERENCES,
)
from resolvers.limits import Limits
from resolvers.pool import me_images
from resolvers.pool.me_images import Kind, Slot
from storage.encrypted import EncryptedColumns, EncryptedField

LIST_REFERENCE_IMAGES = "me.listReferenceImages"
GENERATE_WITH_REFERENCE = "me.generateWithReference"
GET_PROFILE = "me.getProfile"
LIST_GENERATIONS = "me.listGenerations"

KINDS = [k.value for k in Kind]
_ID = {"type": "string", "minLength": 1, "maxLength": 200}
# A mask is at most an upload's size; as base64 it is 4/3 of that.
MAX_MASK_BASE64 = -(-Limits().max_upload_bytes // 3) * 4
_URL = {"type": "string", "description": "Signed URL; works without a token until it expires."}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Null or `schema`, as `anyOf` branches: single-type dialects (Gemini's) read that."""
    description = schema.pop("description", None)
    branches = {"anyOf": [schema, {"type": "null"}]}
    return {**branches, "description": description} if description else branches


def _complete(schema: dict[str, Any]) -> dict[str, Any]:
    """An object schema whose every property is always present (null where it has none)."""
    return {**schema, "required": list(schema["properties"])}


_TEXT_OR_NULL = _nullable({"type": "string"})


def _encrypted_property(field: EncryptedField) -> dict[str, Any]:
    if field.is_list:
        return {"type": "array", "items": {"type": "string", "maxLength": field.max_chars}}
    return _nullable({"type": "string", "maxLength": field.max_chars})


def reference_image_schema(
    declared: EncryptedColumns[Any] = me_images.ENCRYPTED,
) -> dict[str, Any]:
    """An image of `me.listReferenceImages`, every declared encrypted field among its
    properties (as `handlers.reference_image` writes them)."""
    return _complete(
        {
            "type": "object",
            "properties": {
                "id": {
                    "type": "string",
                    "description": "MeImage id; pass it as a referenceImageId.",
                },
                "mediaId": {"type": "string"},
                "kind": {"type": "string", "enum": KINDS},
                **{f.name: _encrypted_property(f) for f in declared},
                "primaryFor": _nullable({"type": "string", "enum": [s.value for s in Slot]}),
                "publicUrl": _URL,
                "thumbnailUrl": _URL,
                "width": {"type": "integer"},
                "height": {"type": "integer"},
            },
        }
    )


_REFERENCE_IMAGE = reference_image_schema()

_OUTPUT_IMAGE: dict[str, Any] = _complete(
    {
        "type": "object",
        "properties": {
            "mediaId": _nullable(
                {"type": "string", "description": "Null if it could not be stored."}
            ),
            "imageUrl": _nullable(dict(_URL)),
            "thumbnailUrl": _nullable(dict(_URL)),
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "referenceImageId": _nullable(
                {
                    "type": "string",
                    "description": "Chaining: the id of the reference image taken from this "
                    "output, when AI may use it now - pass it as a referenceImageId to refine "
                    "the picture. Null otherwise (only its owner can take an output into the "
                    "pool and opt it in).",
                }
            ),
            "aiGenerated": {
                "type": "boolean",
                "description": "Always true: every output is AI-generated, and its file says so "
                "(a signed C2PA manifest and the IPTC digital source type in XMP).",
            },
            "digitalSourceType": {"type": "string", "format": "uri"},
            "contentCredentials": _nullable(
                _complete(
                    {
                        "type": "object",
                        "description": "The Content Credentials signed into the file; null "
                        "for images made before outputs were signed.",
                        "properties": {
                            "signer": {"type": "string"},
                            "signedAt": {"type": "string", "format": "date-time"},
                            "providerCredentials": _nullable(
                                _complete(
                                    {
                                        "type": "object",
                                        "description": "The provider's own manifest, kept "
                                        "inside ours, as it was when the image arrived.",
                                        "properties": {
                                            "signer": _TEXT_OR_NULL,
                                            "claimGenerator": _TEXT_OR_NULL,
                                            "valid": {"type": "boolean"},
                                        },
                                    }
                                )
                            ),
                        },
                    }
                )
            ),
        },
    }
)

_GENERATION: dict[str, Any] = _complete(
    {
        "type": "object",
        "properties": {
            "generationId": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
            "prompt": {"type": "string"},
            "model": _nullable(
                {
                    "type": "string",
                    "description": "The model that produced the images (null if none did).",
                }
            ),
            "modelRequested": {"type": "string"},
            "quality": {"type": "string", "enum": [q.value for q in Quality]},
            "size": {"type": "string", "enum": [s.value for s in Size]},
            "n": {"type": "integer"},
            "referenceImageIds": {"type": "array", "items": {"type": "string"}},
            "referenceMediaIds": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Media ids of the references that still exist and are opted in.",
            },
            "images": {"type": "array", "items": _OUTPUT_IMAGE},
            "masked": {
                "type": "boolean",
                "description": "Whether it was sent with an inpainting mask.",
            },
            "cost": {"type": "integer", "description": "Credits charged (0 unless succeeded)."},
            "failure": _TEXT_OR_NULL,
            "warning": _TEXT_OR_NULL,
            "createdAt": {"type": "string", "format": "date-time"},
            "completedAt": _nullable({"type": "string", "format": "date-time"}),
        },
    }
)


def _tool(
    name: str,
    title: str,
    description: str,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    *,
    read_only: bool,
    open_world: bool,
    idempotent: bool,
) -> types.Tool:
    return types.Tool(
        name=name,
        title=title,
        description=description,
        inputSchema={"type": "object", "additionalProperties": False, **input_schema},
        outputSchema={"type": "object", **output_schema},
        annotations=types.ToolAnnotations(
            title=title,
            readOnlyHint=read_only,
            destructiveHint=False,
            idempotentHint=idempotent,
            openWorldHint=open_world,
        ),
    )


TOOLS: list[types.Tool] = [
    _tool(
        LIST_REFERENCE_IMAGES,
        "List my reference images",
        "The caller's reference images that AI may use: live, opted in by their owner, in "
        "the active space; none while the owner's AI switch is off. Set includeImages to "
        "receive each image as a small WebP too.",
        {
            "properties": {
                "kind": {"type": "string", "enum": KINDS, "description": "Only this kind."},
                "includeImages": {
                    "type": "boolean",
                    "default": False,
                    "description": "Also return each image as image content (a thumbnail).",
                },
            },
        },
        {
            "properties": {"images": {"type": "array", "items": _REFERENCE_IMAGE}},
            "required": ["images"],
        },
        read_only=True,
        open_world=False,
        idempotent=True,
    ),
    _tool(
        GENERATE_WITH_REFERENCE,
        "Generate with my reference images",
        "Ask an image model for new pictures of the person, from 1 to "
        f"{MAX_REFERENCES} of their opted-in reference images. Costs credits per output "
        "image (see me.getProfile); the same consent checks as the GraphQL mutation run "
        "at request and at send time. Pass idempotencyKey to make a retry safe. To change "
        "only part of the first reference (e.g. only the outfit), pass a mask. To refine an "
        "earlier result, pass its output's referenceImageId (see me.listGenerations).",
        {
            "properties": {
                "prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT},
                "referenceImageIds": {
                    "type": "array",
                    "items": _ID,
                    "minItems": 1,
                    "maxItems": MAX_REFERENCES,
                    "uniqueItems": True,
                    "description": "Ids from me.listReferenceImages.",
                },
                "model": {"type": "string", "enum": list(MODELS), "default": DEFAULT_MODEL},
                "quality": {
                    "type": "string",
                    "enum": [q.value for q in Quality],
                    "default": Quality.MEDIUM.value,
                },
                "size": {
                    "type": "string",
                    "enum": [s.value for s in Size],
                    "default": Size.SQUARE.value,
                },
                "n": {"type": "integer", "minimum": 1, "maximum": MAX_IMAGES, "default": 1},
                "mask": {
                    "type": "string",
                    "contentEncoding": "base64",
                    "contentMediaType": "image/png",
                    "minLength": 1,
                    "maxLength": MAX_MASK_BASE64,
                    "description": "Optional inpainting mask, base64: a PNG with an alpha "
                    "channel whose transparent pixels mark what may change in the first "
                    "reference image, with that image's aspect ratio. Only models whose "
                    "provider takes a mask accept it (OpenAI's do, Gemini's do not).",
                },
                "idempotencyKey": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_IDEMPOTENCY_KEY,
                    "pattern": "^[!-~]+$",
                },
            },
            "required": ["prompt", "referenceImageIds"],
        },
        _GENERATION,
        read_only=False,
        open_world=True,
        idempotent=False,
    ),
    _tool(
        GET_PROFILE,
        "My profile",
        "Credits available, whether AI may use reference images at all (the owner's "
        "switch), and how many images of each kind the pool holds and AI may use.",
        {"properties": {}},
        _complete(
            {
                "properties": {
                    "ownerId": {"type": "string"},
                    "spaceId": {"type": "string"},
                    "credits": {"type": "integer"},
                    "aiUsesReferenceImages": {"type": "boolean"},
                    "imageCounts": {
                        "type": "object",
                        "description": "Live images per kind.",
                        "properties": {k: {"type": "integer"} for k in KINDS},
                        "required": KINDS,
                    },
                    "referenceImageCounts": {
                        "type": "object",
                        "description": "Images AI may use now, per kind.",
                        "properties": {k: {"type": "integer"} for k in KINDS},
                        "required": KINDS,
                    },
                },
            }
        ),
        read_only=True,
        open_world=False,
        idempotent=True,
    ),
    _tool(
        LIST_GENERATIONS,
        "My generations",
        "The caller's generations in the active space, newest first, with the reference "
        "images each one used. Pass nextCursor as `after` for the next page.",
        {
            "properties": {
                "first": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 20},
                "after": {**_ID, "description": "nextCursor of the previous page."},
            },
        },
        {
            "properties": {
                "generations": {"type": "array", "items": _GENERATION},
                "nextCursor": _TEXT_OR_NULL,
            },
            "required": ["generations", "nextCursor"],
        },
        read_only=True,
        open_world=False,
        idempotent=True,
    ),
]


def listed(config: GenerationConfig) -> list[types.Tool]:
    """The tools as this server offers them: the model enum holds the operator's
    workflows (`local/<name>`) too."""
    return with_models(tuple(catalogue(config)))


@functools.cache
def with_models(model_ids: tuple[str, ...]) -> list[types.Tool]:
    if model_ids == tuple(MODELS):
        return TOOLS
    tools = []
    for tool in TOOLS:
        if tool.name == GENERATE_WITH_REFERENCE:
            schema = copy.deepcopy(tool.inputSchema)
            schema["properties"]["model"]["enum"] = list(model_ids)
            tool = tool.model_copy(update={"inputSchema": schema})
        tools.append(tool)
    return tools
