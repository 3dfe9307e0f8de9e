"""The counters behind the rate limits: exact under concurrency, in memory and on Redis."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast

import pytest
import redis.asyncio

from resolvers.config import Configuration
from resolvers.limits import RateLimits
from resolvers.rate_limits import Act, RateLimited, consume
from resolvers.stores import Caller, Stores
from storage.rate_counters import RateCounters
from tests.limits.conftest import REDIS_URL


async def _fire(counters: list[RateCounters], at_once: int, limit: int) -> list[float | None]:
    """`at_once` acquisitions of one window, spread over the given counters."""
    return await asyncio.gather(
        *(
            counters[n % len(counters)].acquire("upload:60", "owner-1", limit, 60)
            for n in range(at_once)
        )
    )


async def test_memory_counters_admit_exactly_the_limit() -> None:
    counters = RateCounters()
    outcomes = await _fire([counters], 50, 7)
    assert outcomes.count(None) == 7
    waits = [w for w in outcomes if w is not None]
    assert len(waits) == 43 and all(0 < w <= 60 for w in waits)


async def test_two_instances_on_one_redis_admit_exactly_the_limit(
    redis_prefix: str, redis_keys: redis.asyncio.Redis
) -> None:
    a = RateCounters(REDIS_URL, key_prefix=redis_prefix)
    b = RateCounters(REDIS_URL, key_prefix=redis_prefix)
    try:
        outcomes = await _fire([a, b], 50, 7)
        assert outcomes.count(None) == 7
        assert all(0 < w <= 60 for w in outcomes if w is not None)
        # Another subject has windows of its own.
        assert await a.acquire("upload:60", "owner-2", 7, 60) is None
        assert [key async for key in redis_keys.scan_iter(match=f"{redis_prefix}:rate*")]
    finally:
        await a.close()
        await b.close()


@dataclass
class _Stores:
    """What `consume` reads of the stores."""

    config: Configuration
    rate_counters: RateCounters


@pytest.mark.parametrize("redis_backed", [False, True])
@pytest.mark.parametrize(
    ("limits", "refused_by", "wait"),
    [
        (
            RateLimits(generations_per_hour=3, generations_per_day=10),
            "3 generations per hour",
            3600,
        ),
        (
            RateLimits(generations_per_hour=10, generations_per_day=3),
            "3 generations per day",
            86400,
        ),
    ],
)
async def test_generations_count_against_the_hour_and_the_day(
    redis_backed: bool,
    limits: RateLimits,
    refused_by: str,
    wait: int,
    redis_prefix: str,
    redis_keys: redis.asyncio.Redis,
) -> None:
    counters = RateCounters(REDIS_URL if redis_backed else "", key_prefix=redis_prefix)
    stores = cast(Stores, _Stores(Configuration(rate_limits=limits), counters))
    caller = Caller("owner-g")
    try:
        for _ in range(3):
            await consume(stores, caller, Act.GENERATION)
        with pytest.raises(RateLimited) as refused:
            await consume(stores, caller, Act.GENERATION)
        assert refused.value.limit == refused_by and refused.value.code == "RATE_LIMITED"
        assert wait - 100 < refused.value.retry_after <= wait
        # Uploads are windows of their own; 0 turns a limit off.
        await consume(stores, caller, Act.UPLOAD)
        off = cast(
            Stores,
            _Stores(
                Configuration(
                    rate_limits=RateLimits(generations_per_hour=0, generations_per_day=0)
                ),
                counters,
            ),
        )
        for _ in range(10):
            await consume(off, caller, Act.GENERATION)
    finally:
        await counters.close()
