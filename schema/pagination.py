"""What Relay's cursor connections share: the page info of one page of a list."""

from __future__ import annotations

import strawberry


@strawberry.type(description="Where one page of a list stands (Relay's cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether items follow this page: ask again with `after: endCursor`."
    )
    has_previous_page: bool = strawberry.field(
        description="Always false: these lists page forward only (`first`/`after`)."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first item of this page; null when it is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last item of this page; null when it is empty."
    )
