"""What Relay's cursor connections share: the page info of one page of a list, and the
page arguments' descriptions (the rules are `resolvers.paging`'s)."""

from __future__ import annotations

import strawberry

from resolvers import paging

FIRST = f"Forward: this many items (1 to {paging.MAX_PAGE}; null or absent: {paging.DEFAULT_PAGE}) after `after`."
AFTER = "Forward: the items after this cursor (an edge's `cursor` or `pageInfo.endCursor`)."
LAST = f"Backward: this many items (1 to {paging.MAX_PAGE}; null: {paging.DEFAULT_PAGE}) just before `before`."
BEFORE = "Backward: the items before this cursor (an edge's `cursor` or `pageInfo.startCursor`)."
ARGUMENTS = (
    "`first`/`after` page forward, `last`/`before` back; mixing the two, a size out of "
    "range or a cursor of another list is a GraphQL error with `extensions.code` "
    "INVALID_INPUT (and `extensions.field`)."
)


@strawberry.type(description="Where one page of a list stands (Relay's cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether items follow this page: ask again with `after: endCursor`."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page: ask again with `before: startCursor`."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first item of this page; null when it is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last item of this page; null when it is empty."
    )


def page_info(cursors: list[str], has_next: bool, has_previous: bool) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
