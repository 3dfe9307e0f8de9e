"""Types of the generation capability: generations, their images, models and prices."""

from __future__ import annotations

import asyncio
import base64
import enum
from datetime import datetime
from typing import cast

import strawberry
from strawberry.dataloader import DataLoader

from resolvers.generation import chaining, history, pricing
from resolvers.generation.credits import GenerationStatus as DomainStatus
from resolvers.generation.references import png_size
from resolvers.pool import me_images
from resolvers.stores import Caller, Stores
from schema.context import Info
from schema.node import Node
from schema.pagination import PageInfo, page_info
from schema.pool.types import MeImage


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


@strawberry.type(description="One output image of a generation.")
class GeneratedImage:
    image: strawberry.Private[history.OutputImage]
    owner_id: strawberry.Private[str]
    pool: strawberry.Private[ReferencePool]

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

    @strawberry.field(
        description="The image of the caller's pool taken from this output (createMeImage with its mediaId), if it is live: chaining uses it as a reference once its owner opted it in, under every rule of the pool. Null if the output is not in the pool."
    )
    async def pool_image(self) -> MeImage | None:
        if self.image.media_id is None:
            return None
        image = await self.pool.taken_from(self.image.media_id)
        return MeImage.of(image) if image is not None else None


@strawberry.type(description="The inpainting mask a generation was sent with.")
class GenerationMask:
    data: strawberry.Private[bytes]

    @strawberry.field(description="Always image/png: an RGBA PNG.")
    def content_type(self) -> str:
        return "image/png"

    @strawberry.field(description="Width in pixels (the first reference's as sent).")
    def width(self) -> int:
        return png_size(self.data)[0]

    @strawberry.field(description="Height in pixels (the first reference's as sent).")
    def height(self) -> int:
        return png_size(self.data)[1]

    @strawberry.field(description="The PNG, base64; transparent pixels marked what could change.")
    def base64(self) -> str:
        return base64.b64encode(self.data).decode()


class ReferencePool:
    """The caller's live images, loaded once for all generations of one field."""

    def __init__(self, stores: Stores, caller: Caller) -> None:
        self._stores, self._caller = stores, caller
        self._task: asyncio.Future[dict[str, me_images.Image]] | None = None
        self._outputs: DataLoader[str, me_images.Image | None] = DataLoader(self._taken_from)

    async def _taken_from(self, media_ids: list[str]) -> list[me_images.Image | None]:
        pool = await self.get()
        found = await chaining.pool_images_of_outputs(
            self._stores, self._caller, media_ids, pool.values()
        )
        return [found.get(m) for m in media_ids]

    async def taken_from(self, output_media_id: str) -> me_images.Image | None:
        """The live image taken into the pool from this output, if any (batched)."""
        return await self._outputs.load(output_media_id)

    async def _load(self) -> dict[str, me_images.Image]:
        return {i.id: i for i in await me_images.list_images(self._stores, self._caller)}

    async def get(self) -> dict[str, me_images.Image]:
        if self._task is None:
            self._task = asyncio.ensure_future(self._load())
        return await self._task


@strawberry.type(name="Generation", description="One generateWithReference call and its result.")
class Generation(Node):
    data: strawberry.Private[history.Generation]
    pool: strawberry.Private[ReferencePool]

    @classmethod
    def of(cls, data: history.Generation, pool: ReferencePool) -> Generation:
        # `id` is a resolver here, not the constructor argument Node's plain field is to
        # the type checker.
        return cls(data=data, pool=pool)  # type: ignore[call-arg]

    @strawberry.field(  # type: ignore[misc]
        description="Opaque id, unique across all types (refetch with `node(id:)`)."
    )
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
        return [
            GeneratedImage(image=i, owner_id=self.data.owner_id, pool=self.pool)
            for i in self.data.images
        ]

    @strawberry.field(
        description="The inpainting mask it was sent with (stored encrypted); null without one."
    )
    def mask(self) -> GenerationMask | None:
        return GenerationMask(data=self.data.mask) if self.data.mask is not None else None

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
    provider: str = strawberry.field(
        description="Who runs it: openai, gemini, or comfyui (the operator's own engine)."
    )
    description: str = strawberry.field(description="What it is.")
    configured: bool = strawberry.field(
        description="This server has credentials for it (for comfyui: an engine URL)."
    )
    prices: list[GenerationPrice] = strawberry.field(
        description="Credits per output image, by quality; never per reference."
    )
    reference_count: int | None = strawberry.field(
        default=None,
        description="Exactly this many reference images must be given; null: 1 to 8.",
    )
    max_images: int = strawberry.field(
        default=4, description="The largest `n` this model takes in one call."
    )


@strawberry.type(description="One generation in a page of the history, with its cursor.")
class GenerationEdge:
    node: Generation = strawberry.field(description="The generation.")
    cursor: str = strawberry.field(
        description="Opaque; pass as `after` for what follows it, as `before` for what precedes it."
    )


@strawberry.type(
    description="A page of the caller's generations, newest first (a Relay connection)."
)
class GenerationConnection:
    edges: list[GenerationEdge] = strawberry.field(description="The generations of this page.")
    page_info: PageInfo = strawberry.field(
        description="Whether more follow or precede, and from where."
    )

    @classmethod
    def of(cls, page: history.GenerationPage, pool: ReferencePool) -> GenerationConnection:
        edges = [
            GenerationEdge(node=Generation.of(g, pool), cursor=history.cursor_of(g.id))
            for g in page.items
        ]
        return cls(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], page.has_next, page.has_previous),
        )
