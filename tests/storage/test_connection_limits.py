"""PostgreSQL connections: a process holds at most its share of MEIMAGES_DB_POOL_SIZE, and a
database out of connections is a retryable `StoreUnavailable`, never an unexplained error.

Against the real server: connections are counted in `pg_stat_activity` of a throwaway
database, and "too many clients" comes from a role with a connection limit of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text

from api.settings import Settings
from storage.db import Database
from storage.errors import StoreUnavailable
from tests.support.databases import PG_ADMIN_DSN, admin_dsn, postgres_database

SESSIONS = 12  # at once, against a cap of 4


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    async with postgres_database("meimages_conns") as url:
        yield url


async def _backends(url: str) -> int:
    conn = await asyncpg.connect(admin_dsn(url))
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.rsplit("/", 1)[1],
        )
        return count
    finally:
        await conn.close()


async def test_a_process_never_holds_more_connections_than_its_cap(pg_url: str) -> None:
    db = Database(pg_url, max_connections=4)
    inside = 0
    peak_inside = 0
    all_in = asyncio.Event()
    counted: list[int] = []

    async def hold() -> None:
        nonlocal inside, peak_inside
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
            inside += 1
            peak_inside = max(peak_inside, inside)
            if inside == 4:  # the cap is reached: count the server's backends now
                counted.append(await _backends(pg_url))
                all_in.set()
            await all_in.wait()
            inside -= 1

    try:
        await asyncio.gather(*(hold() for _ in range(SESSIONS)))
    finally:
        await db.engine.dispose()
    # Every session was served, never more than four at a time, on four connections.
    assert peak_inside == 4
    assert counted and counted[0] == 4


def test_the_pool_size_is_shared_among_the_workers() -> None:
    assert Settings(db_pool_size=30).db_connections_per_process == 30
    assert Settings(db_pool_size=30, workers=4).db_connections_per_process == 7
    assert Settings(db_pool_size=2, workers=4).db_connections_per_process == 1


async def test_a_database_out_of_connections_is_unavailable_not_an_error(pg_url: str) -> None:
    role = f"meimages_limited_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1')
        holder = await asyncpg.connect(admin_dsn(pg_url), user=role)  # the only one it may have
        url = pg_url.replace("postgres@", f"{role}@", 1)
        assert url != pg_url
        db = Database(url, max_connections=2)
        try:
            with pytest.raises(StoreUnavailable) as refused:
                async with db.session() as session:
                    await session.execute(text("SELECT 1"))
            assert refused.value.code == "SERVICE_UNAVAILABLE" and refused.value.retry_after_s > 0
            await holder.close()
            async with db.session() as session:  # a connection is free again: served
                assert (await session.execute(text("SELECT 1"))).scalar() == 1
        finally:
            await db.engine.dispose()
            if not holder.is_closed():
                await holder.close()
    finally:
        await admin.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
        )
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()
