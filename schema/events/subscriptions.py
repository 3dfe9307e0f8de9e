"""The `meImageEvents` subscription: the caller's events until the stream or the token ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry

from resolvers import errors as domain
from resolvers.events import feed
from schema.context import Info
from schema.error_map import member_of
from schema.events.delivery import expired, handoff_of
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
        context = info.context
        caller = context.require_caller()
        # The token's end as a deadline on the event loop's clock: the stream itself
        # stops there, so an idle subscription holds one timer handle, nothing more.
        remaining = context.token_remaining_s()
        if remaining is not None and remaining <= 0:
            yield member_of(MeImageEventResult, expired(context))
            return
        until = None if remaining is None else asyncio.get_running_loop().time() + remaining
        handoff = handoff_of(info.root_value)
        if handoff is not None and await handoff.take(context, after, until):
            return  # its group delivers from here on (schema.events.delivery)
        stream = feed.follow(context.stores, caller, after, until)
        try:
            async for event in stream:
                yield event_of(event)
        except feed.DeadlineReached:
            yield member_of(MeImageEventResult, expired(context))
        except domain.DomainError as error:
            # Strawberry's exception handlers skip subscriptions; the same map ends this one.
            yield member_of(MeImageEventResult, error)
        finally:
            await stream.aclose()
