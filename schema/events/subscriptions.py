"""The `meImageEvents` subscription: the caller's events until the stream or the token ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime

import strawberry

from resolvers import errors as domain
from resolvers.events import feed
from schema.context import Info, RequestContext
from schema.error_map import member_of
from schema.events.types import MeImageEventResult, event_of


@strawberry.type
class EventsSubscription:
    """Live changes of the caller's pool."""

    @strawberry.subscription(
        description="The caller's image events in the active space, and the owner's AI "
        "switch changing (`AiUsesReferenceImagesEvent`), oldest first. With "
        "`after`, every later event is replayed before live ones follow, each exactly once. "
        "Ends with TokenExpiredError when the token expires."
    )
    async def me_image_events(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[MeImageEventResult, None]:
        caller = info.context.require_caller()
        stream = feed.follow(info.context.stores, caller, after)
        try:
            async for event in _until_token_expires(info.context, stream):
                yield event_of(event)
        except domain.DomainError as error:
            # Strawberry's exception handlers skip subscriptions; the same map ends this one.
            yield member_of(MeImageEventResult, error)
        finally:
            await stream.aclose()


async def _until_token_expires(
    context: RequestContext, stream: AsyncIterator[feed.Event]
) -> AsyncGenerator[feed.Event, None]:
    """The stream's events while the token is honoured; then `TokenExpired`."""
    while True:
        remaining = context.token_remaining_s()
        if remaining is not None and remaining <= 0:
            raise _expired(context)
        try:
            async with asyncio.timeout(remaining):
                event = await anext(stream)
        except TimeoutError:
            raise _expired(context) from None
        except StopAsyncIteration:
            return
        yield event


def _expired(context: RequestContext) -> domain.TokenExpired:
    return domain.TokenExpired(datetime.fromtimestamp(context.token_expires_at() or 0, UTC))
