"""Object types: MeImage, its usage flags, the profile."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from resolvers import paging
from resolvers.generation import credits as generation_credits
from resolvers.generation import ledger, recipients
from resolvers.media.transforms import TransformSpec
from resolvers.media.uploads import Media
from resolvers.pool import me_images, profile
from schema import pagination
from schema.context import Info
from schema.enums import ImageFit, ImageFormat, MeImageKind, PrimarySlot
from schema.ledger import (
    MeImageUseConnection,
    ProviderKind,
    Recipient,
)
from schema.node import Node
from schema.pagination import PageInfo, page_info


@strawberry.type(description="How an image may be used.")
class MeImageUsage:
    ai_reference: bool = strawberry.field(
        description="The owner opted this image in for AI generation. False until they say so."
    )
    show_in_profile: bool = strawberry.field(description="Shown on the owner's profile.")
    ai_reference_until: datetime | None = strawberry.field(
        description="When the AI opt-in lapses by itself (an AI_REFERENCE_TOGGLED event with `expired: true` follows); null: until it is turned off."
    )


@strawberry.type(name="MeImage", description="One reference image of the caller's pool.")
class MeImage(Node):
    # Plain attributes, filled once by `of`: far cheaper per field than resolver methods,
    # which matters when a list query resolves hundreds of fields.
    image: strawberry.Private[me_images.Image]
    id: strawberry.ID = strawberry.field(
        description="Opaque id, unique across all types (refetch with `node(id:)`)."
    )
    kind: MeImageKind = strawberry.field(
        description="What the image shows; changeable after upload."
    )
    # One field per encrypted field storage declares (`me_images.ENCRYPTED`): `of` fills
    # them by name.
    label: str | None = strawberry.field(description="Free-text label (stored encrypted).")
    tags: list[str] = strawberry.field(description="Tags (stored encrypted).")
    media_id: strawberry.ID = strawberry.field(
        description="Id of the stored media this image points at."
    )
    storage_path: str = strawberry.field(
        description="Storage key of the original: an opaque name that tells nothing of its content."
    )
    content_type: str = strawberry.field(description="MIME type of the stored original.")
    width: int = strawberry.field(description="Width in pixels (after applying EXIF orientation).")
    height: int = strawberry.field(
        description="Height in pixels (after applying EXIF orientation)."
    )
    usage: MeImageUsage = strawberry.field(
        description="Usage flags, including the per-image AI consent."
    )
    primary_for: PrimarySlot | None = strawberry.field(
        description="The primary slot this image holds, if any."
    )
    created_at: datetime = strawberry.field(description="When the image was added.")
    updated_at: datetime = strawberry.field(description="When the image last changed.")
    use_count: int = strawberry.field(
        description="How many times this image was sent to an image provider."
    )
    last_used_at: datetime | None = strawberry.field(
        description="When this image was last sent to an image provider."
    )

    @classmethod
    def listed(cls, images: list[me_images.Image], views: dict[str, Any]) -> list[MeImage]:
        """The views of a snapshot's images, each made once and kept in the snapshot's
        memo (`views`): list reads of one pool version share them (nothing changes a
        view once made)."""
        listed = []
        for image in images:
            view = views.get(image.id)
            if view is None or view.image is not image:
                view = views[image.id] = cls.of(image)
            listed.append(view)
        return listed

    @classmethod
    def of(cls, image: me_images.Image) -> MeImage:
        return cls(
            image=image,
            id=strawberry.ID(image.id),
            kind=MeImageKind.of(image.kind),
            **{name: getattr(image.encrypted, name) for name in me_images.ENCRYPTED_FIELDS},
            media_id=strawberry.ID(image.media.id),
            storage_path=image.media.storage_path,
            content_type=image.media.content_type,
            width=image.media.width,
            height=image.media.height,
            usage=MeImageUsage(
                ai_reference=image.ai_reference,
                show_in_profile=image.show_in_profile,
                ai_reference_until=image.ai_reference_until,
            ),
            primary_for=PrimarySlot.of(image.primary_for) if image.primary_for else None,
            created_at=image.created_at,
            updated_at=image.updated_at,
            use_count=image.use_count,
            last_used_at=image.last_used_at,
        )

    @strawberry.field(
        description="Signed, expiring URL of the original; works without a token until it expires."
    )
    def public_url(self, info: Info) -> str:
        return _media_url(info, self.image.media, "original")

    @strawberry.field(description="Signed, expiring URL of a small WebP thumbnail.")
    def thumbnail_url(self, info: Info) -> str:
        return _media_url(info, self.image.media, "thumbnail")

    @strawberry.field(
        description="Signed, expiring URL of a WebP at most 1024 px on its long side."
    )
    def medium_url(self, info: Info) -> str:
        return _media_url(info, self.image.media, "medium")

    @strawberry.field(
        description="Signed, expiring URL of a resized rendition (each side 1..2048 px; give a width, a height or both). Made on first request, then cached."
    )
    def transform_url(
        self,
        info: Info,
        width: int | None = None,
        height: int | None = None,
        fit: ImageFit = ImageFit.INSIDE,
        format: ImageFormat = ImageFormat.WEBP,
    ) -> str:
        spec = TransformSpec.build(
            width,
            height,
            fit.to_domain(),
            format.to_domain(),
            max_px=info.context.stores.config.limits.max_transform_px,
        )
        return _media_url(info, self.image.media, spec.name)

    @strawberry.field(
        description="Every time this image was sent to an image provider, newest first: to whom, for which generation, how it ended."
    )
    async def uses(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=pagination.FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=pagination.AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=pagination.LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=pagination.BEFORE)] = None,
    ) -> MeImageUseConnection:
        page = await ledger.uses_of(
            info.context.stores,
            info.context.require_caller(),
            self.image.id,
            first,
            after,
            last=last,
            before=before,
        )
        return MeImageUseConnection.of(page)


def _media_url(info: Info, media: Media, variant: str) -> str:
    return info.context.urls.url(media.id, variant, media.owner_id)


@strawberry.type(description="One image in a page of the pool, with its cursor.")
class MeImageEdge:
    node: MeImage = strawberry.field(description="The image.")
    cursor: str = strawberry.field(
        description="Opaque; pass as `after` for what follows it, as `before` for what precedes it."
    )


@strawberry.type(description="A page of the caller's pool (a Relay connection).")
class MeImageConnection:
    edges: list[MeImageEdge] = strawberry.field(description="The images of this page.")
    page_info: PageInfo = strawberry.field(
        description="Whether more follow or precede, and from where."
    )

    @classmethod
    def of(cls, page: paging.Page[me_images.Image]) -> MeImageConnection:
        edges = [MeImageEdge(node=MeImage.of(i), cursor=me_images.cursor_of(i)) for i in page.items]
        return cls(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], page.has_next, page.has_previous),
        )


@strawberry.type(description="A successful deletion.")
class DeletedMeImage:
    id: strawberry.ID = strawberry.field(description="Id of the deleted image.")


@strawberry.type(description="The caller's settings for their pool in the active space.")
class Profile:
    owner_id: strawberry.ID = strawberry.field(description="The authenticated owner.")
    space_id: strawberry.ID = strawberry.field(
        description="The active space (from the token; `personal` by default)."
    )
    ai_uses_reference_images: bool = strawberry.field(
        description="Global kill switch: when false, no image is used for AI, whatever its own flag."
    )

    @classmethod
    def of(cls, data: profile.Profile) -> Profile:
        return cls(
            owner_id=strawberry.ID(data.owner_id),
            space_id=strawberry.ID(data.space_id),
            ai_uses_reference_images=data.ai_uses_reference_images,
        )

    @strawberry.field(description="Derived avatar: the FACE_REF holder, else the AVATAR holder.")
    async def avatar(self, info: Info) -> MeImage | None:
        image = await profile.avatar(info.context.stores, info.context.require_caller())
        return MeImage.of(image) if image else None

    @strawberry.field(description="Signed thumbnail URL of the derived avatar, if any.")
    async def avatar_url(self, info: Info) -> str | None:
        image = await profile.avatar(info.context.stores, info.context.require_caller())
        return _media_url(info, image.media, "thumbnail") if image else None

    @strawberry.field(
        description="Credits the owner can spend on generation now (credits held by running generations excluded)."
    )
    async def credits(self, info: Info) -> int:
        return await generation_credits.balance(info.context.stores, str(self.owner_id))

    @strawberry.field(
        description="The providers the owner lets receive their images, in every space (all until they choose; see setAllowedProviders). The server's operator may narrow it further."
    )
    async def allowed_providers(self, info: Info) -> list[ProviderKind]:
        kinds = await recipients.allowed_providers(
            info.context.stores, info.context.require_caller()
        )
        return [ProviderKind.of(kind) for kind in kinds]

    @strawberry.field(
        description="Every provider and host that ever received an image of this pool, with counts and the last time, most recent first."
    )
    async def recipients(self, info: Info) -> list[Recipient]:
        found = await ledger.recipients(info.context.stores, info.context.require_caller())
        return [Recipient.of(summary) for summary in found]
