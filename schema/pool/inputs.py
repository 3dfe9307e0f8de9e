"""Input types of the mutations."""

from __future__ import annotations

import strawberry

from resolvers.pool import me_images
from schema.enums import MeImageKind, PrimarySlot


def encrypted_values(input: object) -> dict[str, object]:
    """The encrypted fields (as storage declares them) that an input gives, by name;
    an update's omitted fields are left out."""
    values: dict[str, object] = {}
    for name in me_images.ENCRYPTED_FIELDS:
        value = getattr(input, name, strawberry.UNSET)
        if value is not strawberry.UNSET:
            values[name] = value
    return values


@strawberry.input(description="Details of an image being uploaded.")
class UploadMeImageInput:
    kind: MeImageKind = strawberry.field(
        default=MeImageKind.REFERENCE, description="What the image shows."
    )
    label: str | None = strawberry.field(default=None, description="Optional label (≤ 200 chars).")
    tags: list[str] = strawberry.field(
        default_factory=list, description="Tags (≤ 30, ≤ 64 chars each)."
    )
    show_in_profile: bool = strawberry.field(default=True, description="Show on the profile.")
    primary_for: PrimarySlot | None = strawberry.field(
        default=None, description="Claim this slot right away (the previous holder loses it)."
    )


@strawberry.input(description="The media a new MeImage points at.")
class _MediaReference:
    media_id: strawberry.ID = strawberry.field(description="Id returned by the upload route.")


# The upload's details plus the media id, declared once. Strawberry lists the fields of
# the first base first, so `mediaId` leads, as the published schema has it.
@strawberry.input(description="A MeImage for media the caller already uploaded.")
class CreateMeImageInput(_MediaReference, UploadMeImageInput):
    pass


@strawberry.input(
    description="Fields to change; omitted fields stay as they are, a null label clears it."
)
class UpdateMeImageInput:
    label: str | None = strawberry.field(
        default=strawberry.UNSET, description="New label; null clears."
    )
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="New tags, replacing the old; null clears."
    )
    kind: MeImageKind | None = strawberry.field(default=strawberry.UNSET, description="New kind.")
    show_in_profile: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Show on the profile."
    )
