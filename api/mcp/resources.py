"""Each image AI may use, as an MCP resource a client can attach: `meimages://me-images/{id}`.

The list is `reference_images` (live, opted in, kill switch on, this space), and reading
looks the id up in that same list: a non-opted, deleted, other-space or other-owner id
reads exactly like an unknown one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mcp import types
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.session import ServerSession
from mcp.shared.exceptions import McpError
from pydantic import AnyUrl

from api.mcp.handlers import ToolCall
from resolvers.media import delivery
from resolvers.pool import me_images

log = logging.getLogger("meimages.mcp")

PREFIX = "meimages://me-images/"
TEMPLATE = types.ResourceTemplate(
    uriTemplate=PREFIX + "{id}",
    name="me-image",
    title="A reference image",
    description="One of the caller's images AI may use (WebP, at most 1024 px).",
    mimeType="image/webp",
)
# What a resource read returns: the medium rendition, WebP at most 1024 px on its long side.
RENDITION = "medium"
# The MCP specification's code for an unknown resource.
RESOURCE_NOT_FOUND = -32002


def uri_of(image: me_images.Image) -> str:
    return PREFIX + image.id


async def list_resources(call: ToolCall) -> list[types.Resource]:
    """The resources, as of now."""
    return [
        types.Resource(
            uri=AnyUrl(uri_of(image)),
            name=image.encrypted.label or f"{image.kind.value} image",
            title=image.encrypted.label,
            description=f"Reference image ({image.kind.value}), {image.media.width}x"
            f"{image.media.height}",
            mimeType="image/webp",
        )
        for image in await me_images.reference_images(call.stores, call.caller)
    ]


def _not_found() -> McpError:
    return McpError(types.ErrorData(code=RESOURCE_NOT_FOUND, message="resource not found"))


async def read_resource(call: ToolCall, uri: str) -> list[ReadResourceContents]:
    if not uri.startswith(PREFIX):
        raise _not_found()
    image_id = uri.removeprefix(PREFIX)
    usable = await me_images.reference_images(call.stores, call.caller)
    image = next((i for i in usable if i.id == image_id), None)
    if image is None:
        raise _not_found()
    rendition = await delivery.read_variant(call.stores, image.media, RENDITION)
    if rendition is None:
        raise _not_found()
    return [ReadResourceContents(content=rendition.data, mime_type=rendition.content_type)]


async def _uris(call: ToolCall) -> list[str]:
    return [str(r.uri) for r in await list_resources(call)]


async def notify_list_changes(
    call: ToolCall, session: ServerSession, wake: asyncio.Event, known: list[str]
) -> None:
    """Tell the session whenever its resources differ from `known`; runs until cancelled.

    `wake` comes from the notifier that wakes GraphQL subscriptions (on every instance,
    via PostgreSQL NOTIFY when shared), subscribed before `known` was read, so no change
    falls in between. Only a change of the list itself is sent on."""
    try:
        while True:
            await wake.wait()
            wake.clear()
            current = await _uris(call)
            if current != known:
                known = current
                with contextlib.suppress(Exception):
                    await session.send_resource_list_changed()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.warning("resource list watch ended", exc_info=True)
    finally:
        call.stores.notifier.unsubscribe(call.caller.owner_id, wake)
