"""Object types: MeImage, its usage flags, the profile."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import me_images, profile
from resolvers.media import Media
from schema.context import Info
from schema.enums import MeImageKind, PrimarySlot


@strawberry.type(description="How an image may be used.")
class MeImageUsage:
    ai_reference: bool = strawberry.field(
        description="The owner opted this image in for AI generation. False until they say so."
    )
    show_in_profile: bool = strawberry.field(description="Shown on the owner's profile.")


@strawberry.type(name="MeImage", description="One reference image of the caller's pool.")
class MeImage:
    image: strawberry.Private[me_images.Image]

    @strawberry.field(description="Opaque id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.image.id)

    @strawberry.field(description="What the image shows; changeable after upload.")
    def kind(self) -> MeImageKind:
        return MeImageKind.of(self.image.kind)

    @strawberry.field(description="Free-text label (stored encrypted).")
    def label(self) -> str | None:
        return self.image.label

    @strawberry.field(description="Tags (stored encrypted).")
    def tags(self) -> list[str]:
        return self.image.tags

    @strawberry.field(description="Id of the stored media this image points at.")
    def media_id(self) -> strawberry.ID:
        return strawberry.ID(self.image.media.id)

    @strawberry.field(description="Content-addressed storage key of the original.")
    def storage_path(self) -> str:
        return self.image.media.storage_path

    @strawberry.field(
        description="Signed, expiring URL of the original; works without a token until it expires."
    )
    def public_url(self, info: Info) -> str:
        return _media_url(info, self.image.media, "original")

    @strawberry.field(description="Signed, expiring URL of a small WebP thumbnail.")
    def thumbnail_url(self, info: Info) -> str:
        return _media_url(info, self.image.media, "thumbnail")

    @strawberry.field(description="MIME type of the stored original.")
    def content_type(self) -> str:
        return self.image.media.content_type

    @strawberry.field(description="Width in pixels (after applying EXIF orientation).")
    def width(self) -> int:
        return self.image.media.width

    @strawberry.field(description="Height in pixels (after applying EXIF orientation).")
    def height(self) -> int:
        return self.image.media.height

    @strawberry.field(description="Usage flags, including the per-image AI consent.")
    def usage(self) -> MeImageUsage:
        return MeImageUsage(
            ai_reference=self.image.ai_reference, show_in_profile=self.image.show_in_profile
        )

    @strawberry.field(description="The primary slot this image holds, if any.")
    def primary_for(self) -> PrimarySlot | None:
        return PrimarySlot.of(self.image.primary_for) if self.image.primary_for else None

    @strawberry.field(description="When the image was added.")
    def created_at(self) -> datetime:
        return self.image.created_at

    @strawberry.field(description="When the image last changed.")
    def updated_at(self) -> datetime:
        return self.image.updated_at


def _media_url(info: Info, media: Media, variant: str) -> str:
    return info.context.urls.url(media.id, variant, media.owner_id)


@strawberry.type(description="A successful deletion.")
class DeletedMeImage:
    id: strawberry.ID = strawberry.field(description="Id of the deleted image.")


@strawberry.type(description="The caller's settings for their pool in the active space.")
class Profile:
    data: strawberry.Private[profile.Profile]

    @strawberry.field(description="The authenticated owner.")
    def owner_id(self) -> strawberry.ID:
        return strawberry.ID(self.data.owner_id)

    @strawberry.field(description="The active space (from the token; `personal` by default).")
    def space_id(self) -> strawberry.ID:
        return strawberry.ID(self.data.space_id)

    @strawberry.field(
        description="Global kill switch: when false, no image is used for AI, whatever its own flag."
    )
    def ai_uses_reference_images(self) -> bool:
        return self.data.ai_uses_reference_images

    @strawberry.field(description="Derived avatar: the FACE_REF holder, else the AVATAR holder.")
    async def avatar(self, info: Info) -> MeImage | None:
        image = await profile.avatar(info.context.stores, info.context.require_caller())
        return MeImage(image=image) if image else None

    @strawberry.field(description="Signed thumbnail URL of the derived avatar, if any.")
    async def avatar_url(self, info: Info) -> str | None:
        image = await profile.avatar(info.context.stores, info.context.require_caller())
        return _media_url(info, image.media, "thumbnail") if image else None
