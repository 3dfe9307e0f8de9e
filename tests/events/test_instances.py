"""Several `meimages serve` processes on one PostgreSQL: a change made through one
instance reaches subscribers on another, woken by LISTEN/NOTIFY (no polling)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from storage.eventlog.listen import APPLICATION_NAME, asyncpg_dsn
from testbed.server import LiveServer, start_server
from tests.events.conftest import (
    Subscriber,
    event_cursor,
    new_owner,
    set_ai,
    upload,
)


@pytest.fixture
def second_instance(live: LiveServer, tmp_path: Path) -> Iterator[LiveServer]:
    """Another instance of the same deployment: the database and secrets of `live`."""
    server = start_server(tmp_path / "instance-b", live.settings)
    yield server
    server.stop()


@pytest.mark.parametrize("live", ["postgres"], indirect=True)
async def test_mutations_on_one_instance_reach_subscribers_on_another(
    live: LiveServer, second_instance: LiveServer, http: httpx.AsyncClient
) -> None:
    a, b = live, second_instance
    owner = new_owner()
    start = await event_cursor(http, a, user=owner)
    on_a, on_b = Subscriber(a, owner), Subscriber(b, owner)
    await on_a.start(start)
    await on_b.start(start)
    try:
        image = await upload(http, b, 60, user=owner)
        await on_a.wait_for(1)
        for n in range(20):
            # One at a time, each awaited on A: every commit on B must wake A promptly
            # (Subscriber.wait_for gives up after 60 s; there is no polling to save it).
            async with asyncio.timeout(60):
                await set_ai(http, b, image["id"], n % 2 == 0, user=owner)
                await on_a.wait_for(2 + n)

        # Cut every LISTEN connection: the instances reconnect and catch up by cursor.
        conn = await asyncpg.connect(asyncpg_dsn(a.database_url))
        try:
            # By name, not by last query: a health check may have run on it since.
            cut = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = $1",
                APPLICATION_NAME,
            )
        finally:
            await conn.close()
        assert cut >= 2
        await upload(http, b, 61, user=owner)
        events_a = await on_a.wait_for(22)
        events_b = await on_b.wait_for(22)
    finally:
        await on_a.stop()
        await on_b.stop()
    assert events_a == events_b
    assert [e["type"] for e in events_a] == ["ADDED"] + ["AI_REFERENCE_TOGGLED"] * 20 + ["ADDED"]
    assert [e["enabled"] for e in events_a[1:21]] == [n % 2 == 0 for n in range(20)]
