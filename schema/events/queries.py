"""Query fields of the events capability; merged into the Query root in `schema/__init__.py`."""

from __future__ import annotations

import strawberry

from resolvers.events import cursors
from schema.context import Info


@strawberry.type
class EventsQuery:
    """Where live changes start."""

    @strawberry.field(
        description="The cursor of the newest event in the active space. Read it before the "
        "pool, then subscribe with `after:` it to miss nothing that happens from then on."
    )
    async def me_image_event_cursor(self, info: Info) -> str:
        return await cursors.head_cursor(info.context.stores, info.context.require_caller())
