"""Errors of a generation a client can act on; each has a stable code."""

from __future__ import annotations

from collections.abc import Sequence

from resolvers.errors import DomainError


class ReferenceNotUsable(DomainError):
    """One answer for every failed rule (missing, foreign, deleted, not opted in, kill
    switch off, other space), so the error never tells which rule or whose id it was."""

    code = "REFERENCE_NOT_USABLE"
    MESSAGE = (
        "one or more reference images cannot be used: each must be a live image of yours "
        "in this space, opted in for AI, with AI use of reference images switched on"
    )

    def __init__(self, reference_ids: Sequence[str]) -> None:
        super().__init__(self.MESSAGE)
        self.reference_ids = list(reference_ids)


class InsufficientCredits(DomainError):
    code = "INSUFFICIENT_CREDITS"

    def __init__(self, required: int, available: int) -> None:
        super().__init__(f"this generation costs {required} credits; {available} are available")
        self.required = required
        self.available = available


class ProviderNotConfigured(DomainError):
    code = "PROVIDER_NOT_CONFIGURED"

    def __init__(self, provider: str) -> None:
        variables = (
            "MEIMAGES_COMFYUI_URL"
            if provider == "comfyui"
            else f"MEIMAGES_{provider.upper()}_API_KEY or MEIMAGES_{provider.upper()}_BASE_URL"
        )
        super().__init__(f"no {provider} provider is configured on this server (set {variables})")
        self.provider = provider


class ProviderFailed(DomainError):
    """The detail is ours, short and safe: never the provider's raw text, which can echo
    parts of the API key or the prompt."""

    code = "PROVIDER_FAILED"

    def __init__(self, provider: str, detail: str, generation_id: str | None = None) -> None:
        super().__init__(f"the {provider} provider failed: {detail}")
        self.provider = provider
        self.detail = detail
        self.generation_id = generation_id


class OrganizationNotVerified(ProviderFailed):
    """OpenAI refuses gpt-image-2 (and sometimes gpt-image-1) to unverified organisations."""

    def __init__(self, provider: str, model: str) -> None:
        super().__init__(provider, f"the organisation is not verified for {model}")
        self.model = model


class ProviderNotAllowed(DomainError):
    """The provider is not on the owner's or the server's allowlist. Unlike
    ReferenceNotUsable it names the rule: the caller's own settings are no secret to them."""

    code = "PROVIDER_NOT_ALLOWED"
    OWNER = "owner"
    SERVER = "server"

    def __init__(self, provider: str, rule: str) -> None:
        where = (
            "your allowed providers (setAllowedProviders)"
            if rule == self.OWNER
            else "this server's allowed providers (MEIMAGES_ALLOWED_PROVIDERS)"
        )
        super().__init__(f"{provider} is not among {where}; nothing was sent")
        self.provider = provider
        self.rule = rule


class MaskNotSupported(DomainError):
    """The model's provider takes no inpainting mask; refused before anything is held."""

    code = "MASK_NOT_SUPPORTED"

    def __init__(self, provider: str, model: str) -> None:
        super().__init__(
            f"the {provider} provider takes no mask for {model}; send without a mask or "
            "choose a model whose provider takes one"
        )
        self.provider = provider
        self.model = model
