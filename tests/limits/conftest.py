"""Fixtures of the limits tests: a Redis key prefix of each test's own, two instances."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix() -> str:
    """Keys of this test alone: tests running in parallel never share a counter."""
    return f"meimages-test-{uuid.uuid4().hex}"


@pytest_asyncio.fixture
async def redis_keys(redis_prefix: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A Redis client; the test's keys are deleted afterwards."""
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
