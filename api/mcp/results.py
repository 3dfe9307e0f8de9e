"""What a tool call answers: structured content with its JSON text, images, or an error.

Errors are tool results with `isError`, never protocol errors, so an agent can read and
act on them. They carry their JSON (`{"error": {code, message, …}}`) as text only, with no
structured content: a tool's `outputSchema` declares its success, and a client such as the
MCP Inspector validates any structured content against it, error or not. A domain error is shown the way the one registry (`schema.errors.describe`)
describes it for every door: the same stable code, message and details as GraphQL.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from typing import Any

from mcp import types

from resolvers.errors import DomainError
from resolvers.generation.history import OutputImage
from resolvers.media.source_type import TRAINED_ALGORITHMIC_MEDIA
from schema.error_map import describe

log = logging.getLogger("meimages.mcp")

INTERNAL = "INTERNAL"


def success(
    structured: dict[str, Any], images: Sequence[types.ImageContent] = ()
) -> types.CallToolResult:
    # Clients without structured-content support read the same JSON as text.
    text = types.TextContent(type="text", text=json.dumps(structured, separators=(",", ":")))
    return types.CallToolResult(
        content=[text, *images], structuredContent=structured, isError=False
    )


def image(data: bytes, mime_type: str, *, generated: bool = False) -> types.ImageContent:
    """An image in a result; a `generated` one says so in its `_meta` too (the file itself
    carries the signed manifest and the XMP mark)."""
    meta = {"aiGenerated": True, "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}
    return types.ImageContent(
        type="image",
        data=base64.b64encode(data).decode(),
        mimeType=mime_type,
        _meta=meta if generated else None,
    )


def generated_image(output: OutputImage) -> dict[str, Any]:
    """What an output's structured entry says about where it came from: always AI-made,
    and the Content Credentials signed into it (null for outputs made before signing)."""
    credentials = output.credentials
    return {
        "aiGenerated": True,
        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "contentCredentials": None
        if credentials is None
        else {
            "signer": credentials.signer,
            "signedAt": credentials.signed_at.isoformat(),
            "providerCredentials": credentials.provider.to_json() if credentials.provider else None,
        },
    }


def failure(code: str, message: str, **details: Any) -> types.CallToolResult:
    error = {"code": code, "message": message, **details}
    body = {"error": error}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(body, separators=(",", ":")))],
        isError=True,
    )


def domain_failure(error: DomainError) -> types.CallToolResult:
    described = describe(error)
    return failure(described.code, described.message, **described.extra)


def unexpected(tool: str) -> types.CallToolResult:
    """A bug or an outage: logged with its traceback here, masked for the agent."""
    log.exception("tool %s failed", tool)
    return failure(INTERNAL, "internal error; nothing about it is shown here")
