"""The configuration of the rules: what an operator sets (limits, providers, archives,
rate limits, the signing identity), read once at start-up (`api.settings`) and handed to
the rules as `Stores.config`. Nothing here holds a connection or remembers a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.config.generation import GenerationConfig
from resolvers.config.portability import PortabilityConfig
from resolvers.config.signing import SigningIdentity
from resolvers.limits import Limits, RateLimits

__all__ = ["Configuration"]


@dataclass
class Configuration:
    limits: Limits = field(default_factory=Limits)
    # Image providers and credit rules; no provider configured by default.
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    # Who signs the Content Credentials of generated images (the server wires the
    # operator's or the data folder's; a bare configuration gets one in memory).
    signing: SigningIdentity = field(default_factory=SigningIdentity.ephemeral)
    # Where export archives go, how long they stay, how large an import may be.
    portability: PortabilityConfig = field(default_factory=PortabilityConfig)
    # Rate limits per owner (their counters live in `Stores.rate_counters`).
    rate_limits: RateLimits = field(default_factory=RateLimits)
