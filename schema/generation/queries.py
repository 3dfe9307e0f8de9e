"""Query fields of the generation capability; merged into the Query root in `schema/__init__.py`."""

from __future__ import annotations

import strawberry

from resolvers import errors as domain
from resolvers.generation import history, pricing
from schema.context import Info
from schema.generation.types import (
    Generation,
    GenerationModel,
    GenerationPrice,
    GenerationQuality,
    ReferencePool,
)


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
        pool = ReferencePool(stores, caller)
        return [Generation(data=g, pool=pool) for g in found]

    @strawberry.field(description="One generation of the caller; null when there is none.")
    async def generation(self, info: Info, id: strawberry.ID) -> Generation | None:
        stores, caller = info.context.stores, info.context.require_caller()
        try:
            found = await history.get_generation(stores, caller, str(id))
        except domain.NotFound:
            return None
        return Generation(data=found, pool=ReferencePool(stores, caller))

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
