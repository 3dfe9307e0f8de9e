"""Who receives an image: the provider kind and host a model's requests go to, and the
allowlists (the owner's and the operator's) that may rule a recipient out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from resolvers.config.generation import (
    OPENAI_DEFAULT_BASE_URL,
    GenerationConfig,
    ProviderKind,
)
from resolvers.generation.errors import ProviderNotAllowed
from resolvers.generation.pricing import Model, Provider
from resolvers.stores import Caller, Stores

OPENAI_HOST = urlsplit(OPENAI_DEFAULT_BASE_URL).hostname or "api.openai.com"


@dataclass(frozen=True)
class Recipient:
    kind: ProviderKind
    host: str


def _host(base_url: str | None) -> str:
    # A provider unconfigured since (only the sweeper asks then) is still named.
    return (urlsplit(base_url).hostname or "") if base_url else "unknown"


def recipient_of(config: GenerationConfig, model: Model) -> Recipient:
    if model.provider is Provider.OPENAI:
        host = _host(config.openai.base_url if config.openai else None)
        kind = ProviderKind.OPENAI if host == OPENAI_HOST else ProviderKind.OPENAI_COMPATIBLE
        return Recipient(kind, host)
    if model.provider is Provider.COMFYUI:
        engine = config.comfyui
        return Recipient(ProviderKind.COMFYUI, _host(engine.base_url if engine else None))
    return Recipient(ProviderKind.GEMINI, _host(config.gemini.base_url if config.gemini else None))


def check_allowed(
    config: GenerationConfig, owner_allows: Sequence[str] | None, recipient: Recipient
) -> None:
    """ProviderNotAllowed unless the recipient is on both lists (None allows every kind)."""
    if config.allowed_providers is not None and recipient.kind not in config.allowed_providers:
        raise ProviderNotAllowed(recipient.kind.value, ProviderNotAllowed.SERVER)
    if owner_allows is not None and recipient.kind.value not in owner_allows:
        raise ProviderNotAllowed(recipient.kind.value, ProviderNotAllowed.OWNER)


def _owner_list(stored: Sequence[str] | None) -> list[ProviderKind]:
    if stored is None:
        return list(ProviderKind)
    return [kind for kind in ProviderKind if kind.value in stored]


async def allowed_providers(stores: Stores, caller: Caller) -> list[ProviderKind]:
    """The kinds the owner lets receive their images (every kind until they choose)."""
    async with stores.reading() as read:
        owner = await read.owners.get(caller.owner_id)
    return _owner_list(owner.allowed_providers if owner else None)


async def set_allowed_providers(
    stores: Stores, caller: Caller, kinds: Sequence[ProviderKind]
) -> list[ProviderKind]:
    """The owner's allowlist, for all their spaces; an empty list allows no provider."""
    chosen = [kind.value for kind in ProviderKind if kind in kinds]
    async with stores.transaction() as tx:
        owner = await tx.owners.lock(caller.owner_id)
        tx.owners.set_allowed_providers(owner, chosen)
    return _owner_list(chosen)
