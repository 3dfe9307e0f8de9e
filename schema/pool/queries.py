"""Query fields of the pool; merged into the Query root in `schema/__init__.py`."""

from __future__ import annotations

import strawberry

from resolvers import errors
from resolvers.pool import me_images, profile
from schema.context import Info
from schema.enums import ImageOrder, MeImageKind, PrimarySlot
from schema.pool.types import MeImage, Profile


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
        images = await me_images.list_images(
            info.context.stores,
            info.context.require_caller(),
            kind.to_domain() if kind else None,
            order.to_domain(),
        )
        return [MeImage.of(image) for image in images]

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
