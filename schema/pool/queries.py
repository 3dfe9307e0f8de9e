"""Query fields of the pool; merged into the Query root in `schema/__init__.py`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import errors, paging
from resolvers.pool import me_images, profile
from schema import pagination
from schema.context import Info
from schema.enums import ImageOrder, MeImageKind, PrimarySlot
from schema.pool.types import MeImage, MeImageConnection, Profile


@strawberry.type
class PoolQuery:
    """Read the caller's pool in the active space."""

    @strawberry.field(
        description="All live images, newest first unless `order` says otherwise, optionally of one kind."
    )
    async def me_images(
        self,
        info: Info,
        kind: MeImageKind | None = None,
        order: ImageOrder = ImageOrder.NEWEST_FIRST,
    ) -> list[MeImage]:
        images, views = await me_images.listed_images(
            info.context.stores,
            info.context.require_caller(),
            kind.to_domain() if kind else None,
            order.to_domain(),
        )
        return MeImage.listed(images, views)

    @strawberry.field(
        description=f"The caller's live images as a Relay connection (what `meImages` lists, in pages), newest first unless `order` says otherwise, optionally of one kind. {pagination.ARGUMENTS}"
    )
    async def pool(
        self,
        info: Info,
        kind: MeImageKind | None = None,
        order: ImageOrder = ImageOrder.NEWEST_FIRST,
        first: Annotated[int | None, strawberry.argument(description=pagination.FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=pagination.AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=pagination.LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=pagination.BEFORE)] = None,
    ) -> MeImageConnection:
        found = paging.window(first, after, last, before)
        page = await me_images.page_images(
            info.context.stores,
            info.context.require_caller(),
            found,
            kind.to_domain() if kind else None,
            order.to_domain(),
        )
        return MeImageConnection.of(page)

    @strawberry.field(
        description="Images AI may use: live and opted in; empty while the kill switch is off. Newest first unless `order` says otherwise."
    )
    async def reference_images(
        self,
        info: Info,
        kind: MeImageKind | None = None,
        order: ImageOrder = ImageOrder.NEWEST_FIRST,
    ) -> list[MeImage]:
        images = await me_images.reference_images(
            info.context.stores,
            info.context.require_caller(),
            kind.to_domain() if kind else None,
            order.to_domain(),
        )
        return [MeImage.of(image) for image in images]

    @strawberry.field(description="The live image holding a primary slot, if any.")
    async def me_image_by_primary(self, info: Info, slot: PrimarySlot) -> MeImage | None:
        image = await me_images.image_by_primary(
            info.context.stores, info.context.require_caller(), slot.to_domain()
        )
        return MeImage.of(image) if image else None

    @strawberry.field(description="One live image of the caller; null when there is none.")
    async def me_image(self, info: Info, id: strawberry.ID) -> MeImage | None:
        try:
            image = await me_images.get_image(
                info.context.stores, info.context.require_caller(), str(id)
            )
        except errors.NotFound:
            return None
        return MeImage.of(image)

    @strawberry.field(description="The caller's profile: kill switch and derived avatar.")
    async def profile(self, info: Info) -> Profile:
        data = await profile.get_profile(info.context.stores, info.context.require_caller())
        return Profile.of(data)
