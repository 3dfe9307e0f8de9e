"""Rate limits per owner: which act costs which limit, declared once for every door.

The acts that cost a provider budget or storage (uploads, generations) are counted
where they happen (`media.uploads.store_image`, `generation.service`), so GraphQL, REST
and MCP share the same windows without any door knowing about them. Requests as such are
counted by each door once per request with `admit_request`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from resolvers.errors import DomainError
from resolvers.limits import RateLimits
from resolvers.stores import Caller, Stores

MINUTE, HOUR, DAY = 60, 3600, 86400


class Act(enum.Enum):
    REQUEST = "request"
    UPLOAD = "upload"
    GENERATION = "generation"


class RateLimited(DomainError):
    """Too many acts in a window; `retry_after` whole seconds until one more is allowed."""

    code = "RATE_LIMITED"

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(f"rate limit reached ({limit}); retry in {retry_after} s")
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Window:
    rule: str
    amount: int
    per_s: int
    label: str


def _windows(limits: RateLimits, act: Act) -> list[_Window]:
    by_act = {
        Act.REQUEST: [(limits.requests_per_second, 1, "requests per second")],
        Act.UPLOAD: [(limits.uploads_per_minute, MINUTE, "uploads per minute")],
        Act.GENERATION: [
            (limits.generations_per_hour, HOUR, "generations per hour"),
            (limits.generations_per_day, DAY, "generations per day"),
        ],
    }
    return [
        _Window(f"{act.value}:{per_s}", amount, per_s, f"{amount} {label}")
        for amount, per_s, label in by_act[act]
        if amount > 0
    ]


async def consume(stores: Stores, caller: Caller, act: Act) -> None:
    """Count one `act` of the caller's owner against every window of it, or raise
    `RateLimited`. Windows are taken narrowest first; a refusal by a wider one leaves the
    narrower ones counted, which errs on the side of the limit."""
    for window in _windows(stores.config.rate_limits, act):
        wait = await stores.rate_counters.acquire(
            window.rule, caller.owner_id, window.amount, window.per_s
        )
        if wait is not None:
            raise RateLimited(window.label, max(1, math.ceil(wait)))


async def admit_request(stores: Stores, caller: Caller) -> None:
    """One request of any door (GraphQL over HTTP, REST, MCP): raises `RateLimited`."""
    await consume(stores, caller, Act.REQUEST)
