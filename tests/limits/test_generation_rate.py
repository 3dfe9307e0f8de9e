"""Generations per hour through GraphQL: refused calls reach no provider and cost nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest

from storage.rate_counters import RateCounters
from tests.generation.conftest import (  # noqa: F401 (fixtures)
    GENERATE,
    add_reference,
    balance,
    gen_api,
    grant,
)
from tests.support.app import Api
from tests.support.provider_server import ProviderServer

LIMIT = 2
REFUSED = "... on RateLimitedError { limit retryAfter }"


@pytest.fixture
def tight(gen_api: Api) -> Iterator[None]:  # noqa: F811
    """This app with two generations per hour, on fresh counters, for one test."""
    stores = gen_api.stores
    before = stores.config.rate_limits, stores.rate_counters
    stores.config.rate_limits = replace(before[0], generations_per_hour=LIMIT)
    stores.rate_counters = RateCounters()
    try:
        yield
    finally:
        stores.config.rate_limits, stores.rate_counters = before


async def test_concurrent_generations_over_the_hourly_limit_are_refused_typed(
    gen_api: Api,  # noqa: F811
    owner: str,
    provider: ProviderServer,
    tight: None,
) -> None:
    ref = await add_reference(gen_api, owner, 1)
    await grant(gen_api, owner, 1000)
    before = await balance(gen_api, owner)
    query = GENERATE.replace(
        "... on Error { code message }", "... on Error { code message } " + REFUSED
    )
    variables = {"input": {"prompt": "me on a bike", "referenceImageIds": [ref["id"]]}}
    results = await asyncio.gather(*(gen_api.gql(query, variables, user=owner) for _ in range(8)))
    outcomes = [r["generateWithReference"] for r in results]
    made = [o for o in outcomes if o["__typename"] == "Generation"]
    refused = [o for o in outcomes if o["__typename"] == "RateLimitedError"]
    assert len(made) == LIMIT and len(refused) == 8 - LIMIT, outcomes
    assert all(o["code"] == "RATE_LIMITED" for o in refused)
    assert all(o["limit"] == f"{LIMIT} generations per hour" for o in refused)
    assert all(3500 < o["retryAfter"] <= 3600 for o in refused)
    # Only the admitted calls reached the provider and were charged.
    assert len(provider.requests) == LIMIT
    assert before - await balance(gen_api, owner) == sum(o["cost"] for o in made)
