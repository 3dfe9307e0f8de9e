"""Reference generation in the schema: the mutation, its typed errors, and the history."""

from __future__ import annotations

import asyncio
import base64
import enum
from datetime import datetime
from typing import Annotated, cast

import strawberry

from resolvers import errors as domain
from resolvers.generation import errors as generation_errors
from resolvers.generation import history, pricing, requests, service
from resolvers.generation.credits import GenerationStatus as DomainStatus
from resolvers.pool import me_images
from resolvers.stores import Caller, Stores
from schema.context import Info
from schema.enums import ErrorCode
from schema.errors import Error, InvalidInputError, TooLargeError, to_graphql
from schema.types import MeImage


@strawberry.enum(description="How much effort the model spends per image; sets the price.")
class GenerationQuality(enum.Enum):
    LOW = strawberry.enum_value(pricing.Quality.LOW.value, description="Fast and cheap.")
    MEDIUM = strawberry.enum_value(pricing.Quality.MEDIUM.value, description="The default.")
    HIGH = strawberry.enum_value(pricing.Quality.HIGH.value, description="Best and dearest.")

    def to_domain(self) -> pricing.Quality:
        return pricing.Quality(cast(str, self.value))


@strawberry.enum(description="Pixel size of the output images.")
class GenerationSize(enum.Enum):
    SQUARE = strawberry.enum_value(pricing.Size.SQUARE.value, description="1024 x 1024.")
    LANDSCAPE = strawberry.enum_value(pricing.Size.LANDSCAPE.value, description="1536 x 1024.")
    PORTRAIT = strawberry.enum_value(pricing.Size.PORTRAIT.value, description="1024 x 1536.")
    AUTO = strawberry.enum_value(pricing.Size.AUTO.value, description="The model chooses.")

    def to_domain(self) -> pricing.Size:
        return pricing.Size(cast(str, self.value))


@strawberry.enum(description="Where a generation stands.")
class GenerationStatus(enum.Enum):
    PENDING = strawberry.enum_value(
        DomainStatus.PENDING.value, description="The provider is working; credits are held."
    )
    SUCCEEDED = strawberry.enum_value(
        DomainStatus.SUCCEEDED.value, description="Images were produced and charged."
    )
    FAILED = strawberry.enum_value(
        DomainStatus.FAILED.value, description="No images; nothing was charged."
    )


@strawberry.input(description="A prompt and the caller's own consented reference images.")
class GenerationInput:
    prompt: str = strawberry.field(description="What to make (1 to 32000 characters).")
    reference_image_ids: list[strawberry.ID] = strawberry.field(
        description="1 to 8 MeImage ids of the caller, each opted in for AI use."
    )
    model: str = strawberry.field(
        default=pricing.DEFAULT_MODEL,
        description="Model id, see `generationModels` (default openai/gpt-image-2).",
    )
    quality: GenerationQuality = strawberry.field(
        default=GenerationQuality.MEDIUM, description="Quality; sets the price per image."
    )
    size: GenerationSize = strawberry.field(
        default=GenerationSize.SQUARE, description="Output size."
    )
    n: int = strawberry.field(default=1, description="Number of images, 1 to 4.")


@strawberry.type(description="One output image of a generation.")
class GeneratedImage:
    image: strawberry.Private[history.OutputImage]
    owner_id: strawberry.Private[str]

    @strawberry.field(description="Position among the generation's outputs, from 0.")
    def index(self) -> int:
        return self.image.index

    @strawberry.field(description="Id of the stored media (app `picture`); null if not stored.")
    def media_id(self) -> strawberry.ID | None:
        return strawberry.ID(self.image.media_id) if self.image.media_id else None

    @strawberry.field(description="Signed, expiring URL of the stored image; null if not stored.")
    def url(self, info: Info) -> str | None:
        if self.image.media_id is None:
            return None
        return info.context.urls.url(self.image.media_id, "original", self.owner_id)

    @strawberry.field(description="Signed, expiring URL of a small WebP thumbnail, if stored.")
    def thumbnail_url(self, info: Info) -> str | None:
        if self.image.media_id is None:
            return None
        return info.context.urls.url(self.image.media_id, "thumbnail", self.owner_id)

    @strawberry.field(description="MIME type of the image.")
    def content_type(self) -> str:
        return self.image.content_type

    @strawberry.field(description="Width in pixels.")
    def width(self) -> int:
        return self.image.width

    @strawberry.field(description="Height in pixels.")
    def height(self) -> int:
        return self.image.height

    @strawberry.field(
        description="The image itself, base64, only when it could not be stored (see `warning`); otherwise null."
    )
    def base64(self) -> str | None:
        return base64.b64encode(self.image.inline).decode() if self.image.inline else None


class _Pool:
    """The caller's live images, loaded once for all generations of one field."""

    def __init__(self, stores: Stores, caller: Caller) -> None:
        self._stores, self._caller = stores, caller
        self._task: asyncio.Future[dict[str, me_images.Image]] | None = None

    async def _load(self) -> dict[str, me_images.Image]:
        return {i.id: i for i in await me_images.list_images(self._stores, self._caller)}

    async def get(self) -> dict[str, me_images.Image]:
        if self._task is None:
            self._task = asyncio.ensure_future(self._load())
        return await self._task


@strawberry.type(name="Generation", description="One generateWithReference call and its result.")
class Generation:
    data: strawberry.Private[history.Generation]
    pool: strawberry.Private[_Pool]

    @strawberry.field(description="Opaque id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.data.id)

    @strawberry.field(description="Where it stands.")
    def status(self) -> GenerationStatus:
        return GenerationStatus(self.data.status.value)

    @strawberry.field(description="The prompt (stored encrypted).")
    def prompt(self) -> str:
        return self.data.prompt

    @strawberry.field(description="The model asked for.")
    def model_requested(self) -> str:
        return self.data.model_requested

    @strawberry.field(
        description="The model that produced the images (gpt-image-1 when gpt-image-2 was refused); null if none did."
    )
    def model_used(self) -> str | None:
        return self.data.model_used

    @strawberry.field(description="Requested quality.")
    def quality(self) -> GenerationQuality:
        return GenerationQuality(self.data.quality.value)

    @strawberry.field(description="Requested size.")
    def size(self) -> GenerationSize:
        return GenerationSize(self.data.size.value)

    @strawberry.field(description="Number of images asked for.")
    def n(self) -> int:
        return self.data.n

    @strawberry.field(description="Ids of the reference images that were sent, in order.")
    def reference_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(i) for i in self.data.reference_ids]

    @strawberry.field(description="The reference images that were sent and still exist.")
    async def references(self) -> list[MeImage]:
        pool = await self.pool.get()
        return [MeImage.of(pool[i]) for i in self.data.reference_ids if i in pool]

    @strawberry.field(description="The output images.")
    def images(self) -> list[GeneratedImage]:
        return [GeneratedImage(image=i, owner_id=self.data.owner_id) for i in self.data.images]

    @strawberry.field(description="Credits charged (0 unless it succeeded).")
    def cost(self) -> int:
        return self.data.cost

    @strawberry.field(description="Why it failed, in short; null unless FAILED.")
    def failure(self) -> str | None:
        return self.data.failure

    @strawberry.field(
        description="Set when something went wrong after the images were made, e.g. they could not be stored and came back inline."
    )
    def warning(self) -> str | None:
        return self.data.warning

    @strawberry.field(description="When the call started.")
    def created_at(self) -> datetime:
        return self.data.created_at

    @strawberry.field(description="When it finished; null while pending.")
    def completed_at(self) -> datetime | None:
        return self.data.completed_at


@strawberry.type(description="The price of one output image at one quality.")
class GenerationPrice:
    quality: GenerationQuality = strawberry.field(description="The quality.")
    credits: int = strawberry.field(description="Credits per output image.")


@strawberry.type(description="A model generateWithReference can use.")
class GenerationModel:
    id: str = strawberry.field(description="The id to pass as `model`.")
    provider: str = strawberry.field(description="Who runs it: openai or gemini.")
    description: str = strawberry.field(description="What it is.")
    configured: bool = strawberry.field(description="This server has credentials for it.")
    prices: list[GenerationPrice] = strawberry.field(
        description="Credits per output image, by quality; never per reference."
    )


@strawberry.type(description="The caller has fewer credits than the call costs.")
class InsufficientCreditsError(Error):
    required: int = strawberry.field(description="Credits the call needs.")
    available: int = strawberry.field(description="Credits the caller has now.")


@strawberry.type(
    description="At least one reference may not be sent to AI. The same answer for a missing, foreign, deleted or not-opted-in image and for the kill switch being off."
)
class ReferenceNotUsableError(Error):
    reference_ids: list[strawberry.ID] = strawberry.field(
        description="The given ids that cannot be used (all of them while the kill switch is off)."
    )


@strawberry.type(description="The server has no credentials for the model's provider.")
class ProviderNotConfiguredError(Error):
    provider: str = strawberry.field(description="openai or gemini.")


@strawberry.type(description="The image provider failed; nothing was charged.")
class ProviderFailedError(Error):
    provider: str = strawberry.field(description="openai or gemini.")
    detail: str = strawberry.field(description="A short, safe description of the failure.")
    generation_id: strawberry.ID | None = strawberry.field(
        description="The failed generation, when one was recorded."
    )


GenerateWithReferenceResult = Annotated[
    Generation
    | InvalidInputError
    | TooLargeError
    | InsufficientCreditsError
    | ReferenceNotUsableError
    | ProviderNotConfiguredError
    | ProviderFailedError,
    strawberry.union(
        "GenerateWithReferenceResult", description="The generation, or why there is none."
    ),
]


def _error(error: domain.DomainError) -> Error:
    if isinstance(error, generation_errors.InsufficientCredits):
        return InsufficientCreditsError(
            code=ErrorCode.INSUFFICIENT_CREDITS,
            message=error.message,
            required=error.required,
            available=error.available,
        )
    if isinstance(error, generation_errors.ReferenceNotUsable):
        return ReferenceNotUsableError(
            code=ErrorCode.REFERENCE_NOT_USABLE,
            message=error.message,
            reference_ids=[strawberry.ID(i) for i in error.reference_ids],
        )
    if isinstance(error, generation_errors.ProviderNotConfigured):
        return ProviderNotConfiguredError(
            code=ErrorCode.PROVIDER_NOT_CONFIGURED, message=error.message, provider=error.provider
        )
    if isinstance(error, generation_errors.ProviderFailed):
        return ProviderFailedError(
            code=ErrorCode.PROVIDER_FAILED,
            message=error.message,
            provider=error.provider,
            detail=error.detail,
            generation_id=strawberry.ID(error.generation_id) if error.generation_id else None,
        )
    return to_graphql(error)


@strawberry.type
class GenerationQuery:
    """Read the caller's generations in the active space."""

    @strawberry.field(
        description="The caller's generations in the active space, newest first. Page with `after` (the last id seen)."
    )
    async def generations(
        self, info: Info, first: int = 20, after: strawberry.ID | None = None
    ) -> list[Generation]:
        stores, caller = info.context.stores, info.context.require_caller()
        found = await history.list_generations(
            stores, caller, first, str(after) if after is not None else None
        )
        pool = _Pool(stores, caller)
        return [Generation(data=g, pool=pool) for g in found]

    @strawberry.field(description="One generation of the caller; null when there is none.")
    async def generation(self, info: Info, id: strawberry.ID) -> Generation | None:
        stores, caller = info.context.stores, info.context.require_caller()
        try:
            found = await history.get_generation(stores, caller, str(id))
        except domain.NotFound:
            return None
        return Generation(data=found, pool=_Pool(stores, caller))

    @strawberry.field(description="The models this server knows, their prices and availability.")
    def generation_models(self, info: Info) -> list[GenerationModel]:
        config = info.context.stores.generation
        info.context.require_caller()
        configured = {
            pricing.Provider.OPENAI: config.openai is not None,
            pricing.Provider.GEMINI: config.gemini is not None,
        }
        return [
            GenerationModel(
                id=m.id,
                provider=m.provider.value,
                description=m.description,
                configured=configured[m.provider],
                prices=[
                    GenerationPrice(quality=GenerationQuality(q.value), credits=m.price(q))
                    for q in pricing.Quality
                ],
            )
            for m in pricing.MODELS.values()
        ]


@strawberry.type
class GenerationMutation:
    """Generate images with the caller's consented reference images."""

    @strawberry.mutation(
        description="Generate images from a prompt and 1-8 of the caller's reference images. The server checks consent at send time (live, own, this space, opted in, kill switch on), holds the credits, calls the provider and charges only on success."
    )
    async def generate_with_reference(
        self,
        info: Info,
        input: GenerationInput,
        idempotency_key: Annotated[
            str | None,
            strawberry.argument(
                description="Makes retries safe: a retry with the same key and the same input returns the first call's outcome (one provider call, one charge) - the generation, still PENDING while the first call runs (poll `generation(id:)` or retry), or its ProviderFailedError. The same key with another input is an InvalidInputError. Scoped to the caller and space; 1 to 128 printable ASCII characters without spaces, e.g. a UUID."
            ),
        ] = None,
    ) -> GenerateWithReferenceResult:
        stores, caller = info.context.stores, info.context.require_caller()
        request = requests.GenerationRequest(
            prompt=input.prompt,
            reference_ids=[str(i) for i in input.reference_image_ids],
            model=input.model,
            quality=input.quality.to_domain().value,
            size=input.size.to_domain().value,
            n=input.n,
            idempotency_key=idempotency_key,
        )
        try:
            result = await service.generate_with_reference(stores, caller, request)
        except domain.DomainError as error:
            return _error(error)  # type: ignore[return-value]
        return Generation(data=result, pool=_Pool(stores, caller))
