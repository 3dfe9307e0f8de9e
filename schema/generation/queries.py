"""Query fields of the generation capability; merged into the Query root in `schema/__init__.py`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import errors as domain
from resolvers.generation import history, pricing
from schema import pagination
from schema.context import Info
from schema.errors import InvalidInputError
from schema.generation.types import (
    Generation,
    GenerationConnection,
    GenerationModel,
    GenerationPrice,
    GenerationQuality,
    ReferencePool,
)

GenerationsResult = Annotated[
    GenerationConnection | InvalidInputError,
    strawberry.union("GenerationsResult", description="A page of generations, or why not."),
]


@strawberry.type
class GenerationQuery:
    """Read the caller's generations in the active space."""

    @strawberry.field(
        description=f"The caller's generations in the active space, newest first: a Relay connection (`@connection` in Relay, `relayStylePagination` in Apollo). {pagination.ARGUMENTS}"
    )
    async def generation_history(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=pagination.FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=pagination.AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=pagination.LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=pagination.BEFORE)] = None,
    ) -> GenerationConnection:
        stores, caller = info.context.stores, info.context.require_caller()
        page = await history.list_generations(
            stores, caller, first, after, last=last, before=before
        )
        return GenerationConnection.of(page, ReferencePool(stores, caller))

    @strawberry.field(
        description=f"The caller's generations in the active space, newest first: `first` (1 to {history.MAX_PAGE}) of them after the cursor `after`. A bad `first` or a cursor that is not of this list is an InvalidInputError.",
        deprecation_reason="Use `generationHistory`: the same pages as a plain connection (Relay's `@connection` and Apollo's pagination helpers refuse a union), also backwards, with bad arguments as errors with `extensions.code`.",
    )
    async def generations(
        self, info: Info, first: int = history.DEFAULT_PAGE, after: str | None = None
    ) -> GenerationsResult:
        stores, caller = info.context.stores, info.context.require_caller()
        page = await history.list_generations(stores, caller, first, after)
        return GenerationConnection.of(page, ReferencePool(stores, caller))

    @strawberry.field(description="One generation of the caller; null when there is none.")
    async def generation(self, info: Info, id: strawberry.ID) -> Generation | None:
        stores, caller = info.context.stores, info.context.require_caller()
        try:
            found = await history.get_generation(stores, caller, str(id))
        except domain.NotFound:
            return None
        return Generation.of(found, ReferencePool(stores, caller))

    @strawberry.field(description="The models this server knows, their prices and availability.")
    def generation_models(self, info: Info) -> list[GenerationModel]:
        config = info.context.stores.config.generation
        info.context.require_caller()
        configured = {
            pricing.Provider.OPENAI: config.openai is not None,
            pricing.Provider.GEMINI: config.gemini is not None,
            pricing.Provider.COMFYUI: config.comfyui is not None,
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
                reference_count=m.references,
                max_images=m.max_n,
            )
            for m in pricing.catalogue(config).values()
        ]
