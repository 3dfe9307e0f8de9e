"""Rate limits of live servers: one rule for every door, exact across instances.

Two `meimages serve` processes share one PostgreSQL and one Redis; 50 uploads are fired
at once, half through the REST route and half through GraphQL's `uploadMeImage`, half at
each instance. The uploads-per-minute window (a minute is far longer than the burst
takes) admits exactly its limit, whichever door or instance each request reached.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
import redis.asyncio

from testbed.graphql import bearer, upload_form
from testbed.images import jpeg
from testbed.server import LiveServer, deployment_secrets
from tests.limits.conftest import REDIS_URL
from tests.support.databases import PG_ADMIN_DSN, postgres_database
from tests.support.live import live_servers

LIMIT = 5
REST_UPLOAD = "/api/v1/profile/me-images/upload"


# Connections to leave to whatever else runs on the same PostgreSQL meanwhile (the suite's
# other worker opens servers and pools of its own).
LEFT_TO_OTHERS = 20


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    async with postgres_database("meimages_limits") as url:
        yield url


@pytest_asyncio.fixture
async def pg_room() -> int:
    """Connections PostgreSQL can open now (its max_connections less those open)."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        room = await conn.fetchval(
            "SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity"
        )
    finally:
        await conn.close()
    return int(room)


@pytest.fixture
def instances(
    tmp_path: Path,
    pg_url: str,
    pg_room: int,
    redis_prefix: str,
    redis_keys: redis.asyncio.Redis,
) -> Iterator[tuple[LiveServer, LiveServer]]:
    # A connection for each upload an instance gets at once, so none waits for the pool
    # (on a busy machine a wait can outlast the pool's timeout: a 503, not the 429 the
    # count is about); fewer when PostgreSQL has not that many left, whose refusal ("too
    # many clients") would be a 503 too: then the rest wait for a connection returned.
    pool = max(2, min(50 // 2 + 1, (pg_room - LEFT_TO_OTHERS) // 2))
    settings = {
        **deployment_secrets(),
        "MEIMAGES_DATABASE_URL": pg_url,
        "MEIMAGES_BLOB_DIR": str(tmp_path / "blobs"),
        "MEIMAGES_REDIS_URL": REDIS_URL,
        "MEIMAGES_REDIS_KEY_PREFIX": redis_prefix,
        "MEIMAGES_RATE_UPLOADS_PER_MINUTE": str(LIMIT),
        "MEIMAGES_RATE_REQUESTS_PER_SECOND": "0",
        "MEIMAGES_DB_POOL_SIZE": str(pool),
    }
    with live_servers(tmp_path, settings) as (a, b):
        yield a, b


async def _rest(http: httpx.AsyncClient, server: LiveServer, owner: str, seed: int) -> str:
    response = await http.post(
        server.url + REST_UPLOAD,
        files={"file": ("photo.jpg", jpeg(seed), "image/jpeg")},
        headers=server.headers(owner),
    )
    if response.status_code == 201:
        return "stored"
    assert response.status_code == 429, response.text
    retry = int(response.headers["Retry-After"])
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMITED" and error["retryAfter"] == retry
    assert 0 < retry <= 60 and error["limit"] == f"{LIMIT} uploads per minute"
    return "refused"


async def _graphql(http: httpx.AsyncClient, server: LiveServer, owner: str, seed: int) -> str:
    response = await http.post(
        server.graphql_url,
        **upload_form(
            jpeg(seed), fields="__typename ... on RateLimitedError { code retryAfter limit }"
        ),
        headers=bearer(server.token(owner), preflight=True),
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data is not None, response.text
    result = data["uploadMeImage"]
    if result["__typename"] == "MeImage":
        return "stored"
    assert result["__typename"] == "RateLimitedError", result
    assert result["code"] == "RATE_LIMITED" and 0 < result["retryAfter"] <= 60
    return "refused"


async def test_fifty_uploads_at_once_on_two_instances_admit_exactly_the_limit(
    instances: tuple[LiveServer, LiveServer],
) -> None:
    owner = f"limits-{uuid.uuid4().hex[:8]}"
    a, b = instances
    async with httpx.AsyncClient(timeout=120) as http:
        calls = [
            (_rest if n % 2 == 0 else _graphql)(http, (a, b)[(n // 2) % 2], owner, n)
            for n in range(50)
        ]
        outcomes = await asyncio.gather(*calls)
        assert outcomes.count("stored") == LIMIT
        assert outcomes.count("refused") == 50 - LIMIT
        # Nothing half-done: exactly the admitted uploads are media of the owner.
        listed = await http.post(
            a.graphql_url,
            json={"query": "{ meImages { id } }"},
            headers=a.headers(owner),
        )
        stored_by_graphql = sum(1 for n, o in enumerate(outcomes) if o == "stored" and n % 2 == 1)
        assert listed.json()["data"] is not None, listed.text
        assert len(listed.json()["data"]["meImages"]) == stored_by_graphql
        # Another owner is not held back by this one's window.
        assert await _rest(http, b, f"{owner}-other", 99) == "stored"
