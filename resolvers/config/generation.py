"""How this server reaches image providers, and the limits of a generation."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from resolvers.config.workflows import Workflow

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com"
GEMINI_DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"


class ProviderKind(enum.StrEnum):
    """Who receives the references: the kinds an owner and the operator can allow."""

    OPENAI = "openai"
    GEMINI = "gemini"
    # The OpenAI protocol at any base URL other than OpenAI's own.
    OPENAI_COMPATIBLE = "openai-compatible"
    # A ComfyUI engine the operator runs (MEIMAGES_COMFYUI_URL), typically on their own machine.
    COMFYUI = "comfyui"


@dataclass(frozen=True)
class ProviderEndpoint:
    """Where one provider lives. The key never shows in a repr, so never in a log line."""

    base_url: str
    api_key: str = field(default="", repr=False)

    def url(self, path: str) -> str:
        base = self.base_url.rstrip("/")
        # People paste OpenAI's documented base ".../v1"; the paths below add it themselves.
        for suffix in ("/v1", "/v1beta"):
            if base.endswith(suffix) and path.startswith(suffix + "/"):
                base = base[: -len(suffix)]
        return base + path


@dataclass(frozen=True)
class ComfyUIEngine:
    """A ComfyUI server. A job gets `timeout_s` from queueing to its last image; past it
    the job is interrupted and taken off the queue. Without the WebSocket the outcome is
    polled every `poll_interval_s`."""

    base_url: str
    timeout_s: float = 600.0
    poll_interval_s: float = 1.0

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def ws_url(self, path: str) -> str:
        base = self.base_url.rstrip("/")
        scheme, _, rest = base.partition("://")
        return ("wss" if scheme == "https" else "ws") + "://" + rest + path


@dataclass(frozen=True)
class GenerationConfig:
    """Providers are None until configured; the embedded default has none."""

    openai: ProviderEndpoint | None = None
    gemini: ProviderEndpoint | None = None
    comfyui: ComfyUIEngine | None = None
    # Each becomes the model `local/<name>`, listed whether or not an engine is configured.
    workflows: tuple[Workflow, ...] = ()
    # Image models are slow (a high-quality edit can take over a minute); read is the long one.
    timeout_s: float = 180.0
    connect_timeout_s: float = 10.0
    # Credits a new owner starts with (written once, as a "welcome" ledger entry).
    initial_credits: int = 0
    # All reference PNGs of one request together; the provider would refuse far larger ones.
    max_request_bytes: int = 48 * 1024 * 1024
    max_reply_bytes: int = 96 * 1024 * 1024
    reference_long_side: int = 1024
    # A running call renews its generation this often; the sweeper fails (and releases the
    # hold of) a pending generation not renewed for `stale_after_s`: its process died.
    heartbeat_s: float = 15.0
    # The operator's allowlist of recipients (MEIMAGES_ALLOWED_PROVIDERS); None: all kinds.
    allowed_providers: frozenset[ProviderKind] | None = None

    @property
    def hold_ttl_s(self) -> float:
        """After this long a pending generation no longer holds credits (its server died).
        A job on the operator's engine may run for the engine's own, longer timeout."""
        longest = max(self.timeout_s, self.comfyui.timeout_s if self.comfyui else 0.0)
        return 2 * (longest + self.connect_timeout_s) + 120.0

    @property
    def stale_after_s(self) -> float:
        return 4 * self.heartbeat_s


def endpoint(base_url: str, api_key: str, default_base_url: str) -> ProviderEndpoint | None:
    """A provider counts as configured with a key, or with a base URL of its own
    (a self-hosted OpenAI-compatible server may need no key)."""
    if not api_key and not base_url:
        return None
    return ProviderEndpoint(base_url=base_url or default_base_url, api_key=api_key)
