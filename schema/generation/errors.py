"""Typed errors of a generation, each representing one domain error of `resolvers.generation`."""

from __future__ import annotations

import strawberry

from resolvers.errors import DomainError
from resolvers.generation import errors as generation_errors
from schema.enums import ErrorCode
from schema.errors import Error, represents
from schema.ledger import AllowlistRule, ProviderKind


@represents(generation_errors.InsufficientCredits, http_status=402)
@strawberry.type(description="The caller has fewer credits than the call costs.")
class InsufficientCreditsError(Error):
    required: int = strawberry.field(description="Credits the call needs.")
    available: int = strawberry.field(description="Credits the caller has now.")


@represents(generation_errors.ReferenceNotUsable, http_status=403)
@strawberry.type(
    description="At least one reference may not be sent to AI. The same answer for a missing, foreign, deleted or not-opted-in image and for the kill switch being off."
)
class ReferenceNotUsableError(Error):
    reference_ids: list[strawberry.ID] = strawberry.field(
        description="The given ids that cannot be used (all of them while the kill switch is off)."
    )


@represents(generation_errors.ProviderNotConfigured, http_status=503)
@strawberry.type(description="The server has no credentials for the model's provider.")
class ProviderNotConfiguredError(Error):
    provider: str = strawberry.field(description="openai, gemini or comfyui.")


@represents(generation_errors.ProviderFailed, http_status=502)
@strawberry.type(description="The image provider failed; nothing was charged.")
class ProviderFailedError(Error):
    provider: str = strawberry.field(description="openai, gemini or comfyui.")
    detail: str = strawberry.field(description="A short, safe description of the failure.")
    generation_id: strawberry.ID | None = strawberry.field(
        description="The failed generation, when one was recorded."
    )


@represents(generation_errors.ProviderNotAllowed, http_status=403)
@strawberry.type(
    description="The model's provider is not on the owner's or the server's allowlist; nothing was read or sent. Names the rule, since the owner's own settings are no secret to them."
)
class ProviderNotAllowedError(Error):
    provider: str = strawberry.field(
        description="The refused provider as the other provider errors name it: openai, gemini or openai-compatible."
    )
    provider_kind: ProviderKind = strawberry.field(description="The refused provider, typed.")
    rule: AllowlistRule = strawberry.field(description="The allowlist that refused it.")

    @classmethod
    def of(cls, error: DomainError) -> Error:
        return cls(
            code=ErrorCode(error.code),
            message=error.message,
            provider=getattr(error, "provider", ""),
            provider_kind=ProviderKind.of(getattr(error, "provider", "")),
            rule=AllowlistRule(getattr(error, "rule", "")),
        )


@represents(generation_errors.MaskNotSupported, http_status=422)
@strawberry.type(
    description="A mask was given, but the model's provider takes none (Gemini, or a self-hosted engine whose workflow declares no mask input); nothing was held or sent."
)
class MaskNotSupportedError(Error):
    provider: str = strawberry.field(description="The provider that takes no mask.")
    model: str = strawberry.field(description="The model asked for.")
