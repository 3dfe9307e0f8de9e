"""The MCP server: the tools and resources of `api.mcp`, for whichever caller a request has.

One `mcp.server.lowlevel.Server` serves every session; each request names its caller
through `caller_of` (the HTTP door reads the authenticated request, stdio has one fixed
caller), so a session never acts for anyone but the credentials of the request at hand.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp import types
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.models import InitializationOptions
from mcp.shared.context import RequestContext
from mcp.shared.exceptions import McpError
from pydantic import AnyUrl

from api.mcp import handlers, resources, results, tools
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Caller, Stores

log = logging.getLogger("meimages.mcp")

NAME = "meimages"


def server_version() -> str:
    """This server's own version for `serverInfo` (not the MCP SDK's, the default)."""
    try:
        return metadata.version("meimages")
    except metadata.PackageNotFoundError:  # run from a source tree never installed
        return "0+unknown"


INSTRUCTIONS = (
    "The caller's own pool of reference images. Only images the person opted in for AI "
    "use are visible here; consent (opt-ins, primary slots, the AI switch, uploads, "
    "deletions) is changed by the person in the app, never through these tools."
)

# (request context) -> (caller, base URL for media links)
CallerOf = Callable[[RequestContext[Any, Any, Any]], tuple[Caller, str]]


@dataclass
class SessionState:
    """Per MCP session: where its watcher runs, and whether one was started."""

    tasks: TaskGroup
    watched: set[Caller] = field(default_factory=set)


def build_mcp_server(
    stores: Stores, urls: MediaUrlSigner, caller_of: CallerOf, *, list_changes: bool = True
) -> Server[Any, Any]:
    """`list_changes`: watch each session's resources and announce changes to the list."""

    @asynccontextmanager
    async def session_lifespan(_: Server[Any, Any]) -> AsyncIterator[SessionState]:
        async with anyio.create_task_group() as tasks:
            yield SessionState(tasks)
            tasks.cancel_scope.cancel()

    server = _Server(
        NAME, version=server_version(), instructions=INSTRUCTIONS, lifespan=session_lifespan
    )
    server.list_changes = list_changes

    def current() -> handlers.ToolCall:
        caller, base_url = caller_of(server.request_context)
        return handlers.ToolCall(stores, urls, caller, base_url)

    async def listed_and_watched(call: handlers.ToolCall) -> list[types.Resource]:
        """The resources; the first listing of a session also starts watching them."""
        context = server.request_context
        state = context.lifespan_context
        if not list_changes or call.caller in state.watched:
            return await resources.list_resources(call)
        state.watched.add(call.caller)
        # Subscribed before the list is read: a change after the read always wakes it.
        wake = stores.notifier.subscribe(call.caller.owner_id)
        try:
            listed = await resources.list_resources(call)
        except BaseException:
            stores.notifier.unsubscribe(call.caller.owner_id, wake)
            state.watched.discard(call.caller)
            raise
        known = [str(r.uri) for r in listed]
        state.tasks.start_soon(resources.notify_list_changes, call, context.session, wake, known)
        return listed

    @server.list_tools()  # type: ignore[no-untyped-call, untyped-decorator]
    async def list_tools() -> list[types.Tool]:
        return tools.listed(stores.config.generation)

    # Arguments are checked against the input schema by `handlers`, with our error codes.
    @server.call_tool(validate_input=False)  # type: ignore[untyped-decorator]
    async def call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        try:
            call = current()
        except Exception:
            return results.unexpected(name)
        return await handlers.call_tool(call, name, arguments)

    @server.list_resources()  # type: ignore[no-untyped-call, untyped-decorator]
    async def list_resources() -> list[types.Resource]:
        with _masked("resources/list"):
            return await listed_and_watched(current())

    @server.list_resource_templates()  # type: ignore[no-untyped-call, untyped-decorator]
    async def list_resource_templates() -> list[types.ResourceTemplate]:
        return [resources.TEMPLATE]

    @server.read_resource()  # type: ignore[no-untyped-call, untyped-decorator]
    async def read_resource(uri: AnyUrl) -> list[ReadResourceContents]:
        with _masked("resources/read"):
            return await resources.read_resource(current(), str(uri))

    return server


@contextmanager
def _masked(method: str) -> Iterator[None]:
    """The SDK would answer an unexpected exception with its text; log it, say less."""
    try:
        yield
    except McpError:
        raise
    except Exception:
        log.exception("MCP %s failed", method)
        raise McpError(
            types.ErrorData(code=types.INTERNAL_ERROR, message="internal error")
        ) from None


class _Server(Server[SessionState, Any]):
    """Announces resource list changes (when it watches them), whichever transport asks."""

    list_changes = True

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(resources_changed=self.list_changes),
            experimental_capabilities,
        )
