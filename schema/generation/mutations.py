"""Mutations of the generation capability; errors become typed results (see `schema.errors`)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.generation import recipients, requests, service
from resolvers.pool import profile
from schema.context import Info
from schema.errors import InvalidInputError, RateLimitedError, TooLargeError
from schema.generation.errors import (
    InsufficientCreditsError,
    MaskNotSupportedError,
    ProviderFailedError,
    ProviderNotAllowedError,
    ProviderNotConfiguredError,
    ReferenceNotUsableError,
)
from schema.generation.inputs import GenerationInput
from schema.generation.ledger import ProviderKind
from schema.generation.types import Generation, ReferencePool
from schema.pool.types import Profile
from schema.scalars import read_upload

GenerateWithReferenceResult = Annotated[
    Generation
    | InvalidInputError
    | TooLargeError
    | InsufficientCreditsError
    | ReferenceNotUsableError
    | ProviderNotConfiguredError
    | ProviderNotAllowedError
    | MaskNotSupportedError
    | ProviderFailedError
    | RateLimitedError,
    strawberry.union(
        "GenerateWithReferenceResult", description="The generation, or why there is none."
    ),
]


@strawberry.type
class GenerationMutation:
    """Generate images with the caller's consented reference images."""

    @strawberry.mutation(
        description="Generate images from a prompt and 1-8 of the caller's reference images. The server checks consent at send time (live, own, this space, opted in and not past its `until`, kill switch on, provider on the owner's and the server's allowlist), holds the credits, calls the provider and charges only on success."
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
        mask = None
        if input.mask is not None:
            mask = await read_upload(input.mask, stores.config.limits.max_upload_bytes)
        request = requests.GenerationRequest(
            prompt=input.prompt,
            reference_ids=[str(i) for i in input.reference_image_ids],
            model=input.model,
            quality=input.quality.to_domain().value,
            size=input.size.to_domain().value,
            n=input.n,
            idempotency_key=idempotency_key,
            mask=mask,
        )
        result = await service.generate_with_reference(stores, caller, request)
        return Generation.of(result, ReferencePool(stores, caller))

    @strawberry.mutation(
        description="Choose which providers may ever receive the caller's images (in every space of theirs); an empty list allows none. A generation to any other provider is refused with ProviderNotAllowedError before anything is read or sent."
    )
    async def set_allowed_providers(self, info: Info, providers: list[ProviderKind]) -> Profile:
        stores, caller = info.context.stores, info.context.require_caller()
        await recipients.set_allowed_providers(
            stores, caller, [kind.to_domain() for kind in providers]
        )
        return Profile.of(await profile.get_profile(stores, caller))
