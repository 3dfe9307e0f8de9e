"""Pooled PostgreSQL connections that the server closed, or that a dropped link cut
without a word, never reach a request; and a connection in steady use is not pinged
(`pool_pre_ping` spent three round trips on every checkout).

Against the real server: backends are ended with `pg_terminate_backend`, and a link is
dropped silently by the loopback forwarder (`Switch.sever`). Whether a connection is
pinged depends on `ping_after_idle_s`, set to 0 or to never here, not on the clock."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from storage.db import Database
from storage.errors import StoreUnavailable
from tests.resilience.switch import Switch
from tests.support.databases import admin_dsn, postgres_database

PID = text("SELECT pg_backend_pid()")
CLOSE_POLLS = 1000  # 0.01 s apart: a safety net for a slow machine, not a verdict


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    async with postgres_database("meimages_stale") as url:
        yield url


async def held_at_once(db: Database, count: int) -> set[int]:
    """The backend pids of `count` sessions held at the same time (so `count` pooled
    connections, which go back to the pool afterwards)."""
    pids: set[int] = set()
    all_in = asyncio.Event()

    async def hold() -> None:
        async with db.session() as session:
            pids.add((await session.execute(PID)).scalar_one())
            if len(pids) == count:
                all_in.set()
            await all_in.wait()

    await asyncio.gather(*(hold() for _ in range(count)))
    return pids


async def written_pid(db: Database) -> int:
    async with db.transaction() as session:
        pid: int = (await session.execute(PID)).scalar_one()
        await session.execute(text("CREATE TEMP TABLE IF NOT EXISTS t (x int)"))
        return pid


def driver_connections(db: Database) -> list[Any]:
    """The asyncpg connections the pool opens from now on."""
    opened: list[Any] = []
    event.listen(
        db.engine.sync_engine.pool,
        "connect",
        lambda dbapi_connection, _record: opened.append(dbapi_connection.driver_connection),
    )
    return opened


async def test_connections_the_server_closed_are_replaced_before_any_request_meets_them(
    pg_url: str,
) -> None:
    # Never pinged: only the driver's own knowledge that a connection is closed saves them.
    db = Database(pg_url, ping_after_idle_s=math.inf)
    opened = driver_connections(db)
    try:
        old = await held_at_once(db, 3)
        admin = await asyncpg.connect(admin_dsn(pg_url))
        try:
            ended = await admin.fetchval(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid = ANY($1::int[])) AS t",
                list(old),
            )
        finally:
            await admin.close()
        assert ended == 3
        for _ in range(CLOSE_POLLS):  # until this process has read each server's goodbye
            if all(connection.is_closed() for connection in opened):
                break
            await asyncio.sleep(0.01)
        assert all(connection.is_closed() for connection in opened)

        # A single read, three held sessions and a write: each on a live connection.
        row = await db.read_row(PID)
        assert row is not None and row[0] not in old
        assert not (await held_at_once(db, 3)) & old
        assert await written_pid(db) not in old
    finally:
        await db.dispose()


async def test_a_link_dropped_silently_is_found_by_the_ping_after_idle(pg_url: str) -> None:
    target = make_url(pg_url)
    switch = Switch(target.host or "127.0.0.1", target.port or 5432)
    await switch.on()
    through = target.set(port=switch.port).render_as_string(hide_password=False)
    pinged = Database(through, ping_after_idle_s=0.0)  # every reused connection
    unpinged = Database(through, ping_after_idle_s=math.inf)
    try:
        old = await held_at_once(pinged, 2) | await held_at_once(unpinged, 2)
        switch.sever()

        # The ping meets the dropped link and the pool connects again: the request is
        # served, by a new backend.
        row = await pinged.read_row(PID)
        assert row is not None and row[0] not in old
        assert not (await held_at_once(pinged, 2)) & old
        assert await written_pid(pinged) not in old

        # Unpinged, the request meets it: refused as retryable, nothing worse, and the
        # pool starts over, so the next request is served.
        with pytest.raises(StoreUnavailable) as refused:
            await unpinged.read_row(PID)
        assert refused.value.code == "SERVICE_UNAVAILABLE"
        assert not (await held_at_once(unpinged, 2)) & old
    finally:
        await pinged.dispose()
        await unpinged.dispose()
        await switch.off()


async def test_a_connection_in_steady_use_is_not_pinged(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for ping_after_idle_s, expected in ((60.0, 0), (0.0, 49)):
        db = Database(pg_url, ping_after_idle_s=ping_after_idle_s)
        pings = 0
        ping = db.engine.dialect.do_ping

        def counted(dbapi_connection: Any, ping: Any = ping) -> bool:
            nonlocal pings
            pings += 1
            return bool(ping(dbapi_connection))

        monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
        try:
            for _ in range(50):  # one after another: one connection, reused 49 times
                assert await db.read_row(PID) is not None
        finally:
            await db.dispose()
        assert pings == expected, ping_after_idle_s
