"""Mutations of the pool; each returns its success type or the typed error (see `schema.errors`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload

from resolvers import errors
from resolvers.pool import me_images, profile
from resolvers.pool.me_images import ImageChanges
from schema.context import Info
from schema.enums import PrimarySlot
from schema.errors import (
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TooLargeError,
    UnsupportedMediaTypeError,
)
from schema.pool.errors import PoolFullError
from schema.pool.inputs import (
    CreateMeImageInput,
    UpdateMeImageInput,
    UploadMeImageInput,
    encrypted_values,
)
from schema.pool.types import DeletedMeImage, MeImage, Profile
from schema.scalars import read_upload

UploadMeImageResult = Annotated[
    MeImage
    | InvalidInputError
    | TooLargeError
    | UnsupportedMediaTypeError
    | PoolFullError
    | RateLimitedError,
    strawberry.union("UploadMeImageResult", description="The new image, or why not."),
]
CreateMeImageResult = Annotated[
    MeImage | NotFoundError | InvalidInputError | PoolFullError,
    strawberry.union("CreateMeImageResult", description="The new image, or why not."),
]
UpdateMeImageResult = Annotated[
    MeImage | NotFoundError | InvalidInputError,
    strawberry.union("UpdateMeImageResult", description="The updated image, or why not."),
]
SetAiReferenceEnabledResult = Annotated[
    MeImage | NotFoundError | InvalidInputError,
    strawberry.union("SetAiReferenceEnabledResult", description="The image, or why not."),
]
SetPrimaryResult = Annotated[
    MeImage | NotFoundError,
    strawberry.union("SetPrimaryResult", description="The image, or why not."),
]
DeleteMeImageResult = Annotated[
    DeletedMeImage | NotFoundError,
    strawberry.union("DeleteMeImageResult", description="The deleted id, or why not."),
]


@strawberry.type
class PoolMutation:
    """Change the caller's pool in the active space."""

    @strawberry.mutation(
        description="Upload an image file (multipart request) and create its MeImage in one call."
    )
    async def upload_me_image(
        self, info: Info, file: Upload, input: UploadMeImageInput | None = None
    ) -> UploadMeImageResult:
        stores, caller = info.context.stores, info.context.require_caller()
        details = input or UploadMeImageInput()
        data = await read_upload(file, stores.config.limits.max_upload_bytes)
        image = await me_images.upload_image(
            stores,
            caller,
            data,
            kind=details.kind.to_domain(),
            encrypted=encrypted_values(details),
            show_in_profile=details.show_in_profile,
            primary_for=details.primary_for.to_domain() if details.primary_for else None,
        )
        return MeImage.of(image)

    @strawberry.mutation(description="Create a MeImage for media the caller uploaded before.")
    async def create_me_image(self, info: Info, input: CreateMeImageInput) -> CreateMeImageResult:
        image = await me_images.create_image(
            info.context.stores,
            info.context.require_caller(),
            media_id=str(input.media_id),
            kind=input.kind.to_domain(),
            encrypted=encrypted_values(input),
            show_in_profile=input.show_in_profile,
            primary_for=input.primary_for.to_domain() if input.primary_for else None,
        )
        return MeImage.of(image)

    @strawberry.mutation(description="Change label, tags, kind or showInProfile of an image.")
    async def update_me_image(
        self, info: Info, id: strawberry.ID, input: UpdateMeImageInput
    ) -> UpdateMeImageResult:
        changes = ImageChanges(encrypted=encrypted_values(input))
        if input.kind is not strawberry.UNSET:
            if input.kind is None:
                raise errors.InvalidInput("kind cannot be null", field="kind")
            changes.kind = input.kind.to_domain()
        if input.show_in_profile is not strawberry.UNSET:
            if input.show_in_profile is None:
                raise errors.InvalidInput("showInProfile cannot be null", field="showInProfile")
            changes.show_in_profile = input.show_in_profile
        image = await me_images.update_image(
            info.context.stores, info.context.require_caller(), str(id), changes
        )
        return MeImage.of(image)

    @strawberry.mutation(
        description="Opt one image in or out of AI use. This is the per-image consent."
    )
    async def set_ai_reference_enabled(
        self,
        info: Info,
        id: strawberry.ID,
        enabled: bool,
        until: Annotated[
            datetime | None,
            strawberry.argument(
                description="With enabled: true, the opt-in lapses by itself at this moment (must be in the future; without an offset it is UTC). Omitted: until turned off."
            ),
        ] = None,
    ) -> SetAiReferenceEnabledResult:
        image = await me_images.set_ai_reference(
            info.context.stores, info.context.require_caller(), str(id), enabled, until
        )
        return MeImage.of(image)

    @strawberry.mutation(
        description="Claim a primary slot for an image (the previous holder loses it in the same transaction), or clear the image's slot with null."
    )
    async def set_primary(
        self, info: Info, id: strawberry.ID, slot: PrimarySlot | None
    ) -> SetPrimaryResult:
        image = await me_images.set_primary(
            info.context.stores,
            info.context.require_caller(),
            str(id),
            slot.to_domain() if slot else None,
        )
        return MeImage.of(image)

    @strawberry.mutation(
        description="Delete an image: it leaves every query and frees its slot. Bytes are purged separately."
    )
    async def delete_me_image(self, info: Info, id: strawberry.ID) -> DeleteMeImageResult:
        deleted = await me_images.delete_image(
            info.context.stores, info.context.require_caller(), str(id)
        )
        return DeletedMeImage(id=strawberry.ID(deleted))

    @strawberry.mutation(
        description="The global kill switch: false turns every reference off without touching per-image flags."
    )
    async def set_ai_uses_reference_images(self, info: Info, enabled: bool) -> Profile:
        data = await profile.set_ai_uses_reference_images(
            info.context.stores, info.context.require_caller(), enabled
        )
        return Profile.of(data)
