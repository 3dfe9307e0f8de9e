"""Types of the usage ledger and the allowlists: where an owner's images went, and to
whom they may go."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import cast

import strawberry

from resolvers.config.generation import ProviderKind as DomainProviderKind
from resolvers.generation import ledger
from resolvers.generation.ledger import UseOutcome as DomainUseOutcome
from schema.pagination import PageInfo, page_info


@strawberry.enum(name="ProviderKind", description="Who receives reference images.")
class ProviderKind(enum.Enum):
    OPENAI = strawberry.enum_value(
        DomainProviderKind.OPENAI.value, description="OpenAI itself (api.openai.com)."
    )
    GEMINI = strawberry.enum_value(
        DomainProviderKind.GEMINI.value, description="Google's Gemini API."
    )
    OPENAI_COMPATIBLE = strawberry.enum_value(
        DomainProviderKind.OPENAI_COMPATIBLE.value,
        description="A server speaking OpenAI's protocol at another address (e.g. self-hosted).",
    )
    COMFYUI = strawberry.enum_value(
        DomainProviderKind.COMFYUI.value,
        description="The operator's own ComfyUI engine (models `local/<name>`).",
    )

    def to_domain(self) -> DomainProviderKind:
        return DomainProviderKind(cast(str, self.value))

    @classmethod
    def of(cls, kind: DomainProviderKind | str) -> ProviderKind:
        return cls(DomainProviderKind(kind).value)


@strawberry.enum(description="How a send of a reference image ended.")
class UseOutcome(enum.Enum):
    SUCCEEDED = strawberry.enum_value(
        DomainUseOutcome.SUCCEEDED.value, description="The provider returned images."
    )
    FAILED = strawberry.enum_value(
        DomainUseOutcome.FAILED.value, description="The provider failed after receiving it."
    )
    INTERRUPTED = strawberry.enum_value(
        DomainUseOutcome.INTERRUPTED.value,
        description="The call stopped midway; the provider may have received it.",
    )


@strawberry.enum(description="Which allowlist refused a provider.")
class AllowlistRule(enum.Enum):
    OWNER = strawberry.enum_value(
        "owner", description="The owner's own allowed providers (setAllowedProviders)."
    )
    SERVER = strawberry.enum_value(
        "server", description="The operator's allowed providers (MEIMAGES_ALLOWED_PROVIDERS)."
    )


@strawberry.type(description="One send of a reference image to a provider.")
class MeImageUse:
    generation_id: strawberry.ID = strawberry.field(
        description="The generation that sent it (see `generation(id:)`)."
    )
    provider: ProviderKind = strawberry.field(description="Who received it.")
    host: str = strawberry.field(description="The host name of the provider's base URL.")
    model: str = strawberry.field(
        description="The model asked (or, when it succeeded, the model that answered)."
    )
    outcome: UseOutcome = strawberry.field(description="How the send ended.")
    used_at: datetime = strawberry.field(description="When the outcome was recorded.")

    @classmethod
    def of(cls, use: ledger.Use) -> MeImageUse:
        return cls(
            generation_id=strawberry.ID(use.generation_id),
            provider=ProviderKind.of(use.provider),
            host=use.host,
            model=use.model,
            outcome=UseOutcome(use.outcome.value),
            used_at=use.used_at,
        )


@strawberry.type(description="One use and its cursor.")
class MeImageUseEdge:
    cursor: str = strawberry.field(
        description="Opaque; pass as `after` for what follows it, as `before` for what precedes it."
    )
    node: MeImageUse = strawberry.field(description="The use.")


@strawberry.type(description="Uses of an image, newest first (a Relay connection).")
class MeImageUseConnection:
    edges: list[MeImageUseEdge] = strawberry.field(description="The uses of this page.")
    page_info: PageInfo = strawberry.field(
        description="Whether more follow or precede, and from where."
    )

    @classmethod
    def of(cls, page: ledger.UsePage) -> MeImageUseConnection:
        edges = [MeImageUseEdge(cursor=u.cursor, node=MeImageUse.of(u)) for u in page.uses]
        return cls(
            edges=edges,
            page_info=page_info(
                [e.cursor for e in edges], page.has_next_page, page.has_previous_page
            ),
        )


@strawberry.type(description="A provider and host that received images of the caller's pool.")
class Recipient:
    provider: ProviderKind = strawberry.field(description="The kind of provider.")
    host: str = strawberry.field(description="The host name of its base URL.")
    uses: int = strawberry.field(description="Sends to it: one per reference image per generation.")
    images: int = strawberry.field(description="Distinct images it received.")
    last_used_at: datetime = strawberry.field(description="The most recent send.")

    @classmethod
    def of(cls, summary: ledger.RecipientSummary) -> Recipient:
        return cls(
            provider=ProviderKind.of(summary.provider),
            host=summary.host,
            uses=summary.uses,
            images=summary.images,
            last_used_at=summary.last_used_at,
        )
