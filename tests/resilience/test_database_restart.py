"""PostgreSQL stops and starts again under load: requests fail fast with a typed, retryable
error meanwhile, and afterwards the same server processes recover on their own — LISTEN
re-subscribed, subscribers resumed from their cursors with no lost or duplicated event,
every row's blob present, every slot held once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from testbed.server import LiveServer, deployment_secrets, start_server
from tests.crash.backends import PostgresS3, violations
from tests.resilience.load import (
    LIST,
    REQUEST_BOUND_S,
    ResumingSubscriber,
    Traffic,
    graphql_outcome,
    replay,
)
from tests.resilience.private_postgres import PrivatePostgres
from tests.support.s3 import S3Server

# Calls that must come back "retry later" during the outage, and succeed after it, before
# each phase counts as seen (counts, never durations, decide when a phase is over).
OUTAGE_REFUSALS = 10
RECOVERED_SUCCESSES = 25
RECOVERY_POLLS = 600  # 0.2 s apart: a safety net for a slow restart, not a verdict


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    pg.start()
    yield pg
    pg.destroy()


class PrivateBackend(PostgresS3):
    """The crash test's direct reader of the database and bucket, on our own server."""

    def __init__(self, data_dir: Path, pg: PrivatePostgres, s3: S3Server) -> None:
        super().__init__(data_dir, pg.url("meimages"), s3)
        self.dsn = pg.dsn("meimages")

    async def close(self) -> None:
        return None  # the private server goes away whole


async def duplicate_slots(dsn: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(
            await conn.fetch(
                "SELECT owner_id, space_id, primary_for, count(*) FROM me_image"
                " WHERE deleted_at IS NULL AND primary_for IS NOT NULL"
                " GROUP BY owner_id, space_id, primary_for HAVING count(*) > 1"
            )
        )
    finally:
        await conn.close()


async def until_ok(http: httpx.AsyncClient, server: LiveServer, owner: str) -> None:
    for _ in range(RECOVERY_POLLS):
        response = await http.post(
            server.graphql_url, json={"query": LIST}, headers=server.headers(owner)
        )
        if graphql_outcome(response) == "ok":
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{server.url} never recovered:\n{server.log_tail()}")


async def test_database_restart_under_load(
    private_pg: PrivatePostgres, s3: S3Server, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(private_pg.dsn())
    await conn.execute("CREATE DATABASE meimages")
    await conn.close()
    backend = PrivateBackend(tmp_path, private_pg, s3)
    settings = {**deployment_secrets(), **backend.env()}
    a = start_server(tmp_path / "a", settings)
    b = start_server(tmp_path / "b", settings)
    owner = "owner-restart"
    try:
        async with httpx.AsyncClient(timeout=REQUEST_BOUND_S) as http:
            cursor = (
                await http.post(
                    a.graphql_url,
                    json={"query": "{ meImageEventCursor }"},
                    headers=a.headers(owner),
                )
            ).json()["data"]["meImageEventCursor"]
            traffic = Traffic([a, b], owner, http)
            assert await traffic.upload(a, 1) == "ok"
            watcher = ResumingSubscriber(b, owner, cursor)
            watcher.start()
            traffic.start()
            await traffic.wait_until(lambda: traffic.count("ok") >= 20, "traffic flows")

            await asyncio.to_thread(private_pg.stop)
            await traffic.wait_until(
                lambda: traffic.count("unavailable:") >= OUTAGE_REFUSALS, "typed refusals"
            )
            # While it is down, each door answers "retry later" by itself, promptly.
            down = await http.post(a.graphql_url, json={"query": LIST}, headers=a.headers(owner))
            assert graphql_outcome(down) == "unavailable:SERVICE_UNAVAILABLE", down.text
            ready = await http.get(f"{a.url}/readyz")
            if ready.status_code != 404:  # the readiness probe, where the server has one
                assert ready.status_code == 503, ready.text

            await asyncio.to_thread(private_pg.start)
            await until_ok(http, a, owner)
            await until_ok(http, b, owner)
            ok_before = traffic.count("ok")
            await traffic.wait_until(
                lambda: traffic.count("ok") >= ok_before + RECOVERED_SUCCESSES, "recovery"
            )
            await traffic.stop()
            assert traffic.failures() == {}, traffic.outcomes

            # LISTEN re-subscribed: a subscriber that starts on B now is woken by a change
            # committed on A (NOTIFY), not by a replay.
            fresh_cursor = (
                await http.post(
                    b.graphql_url,
                    json={"query": "{ meImageEventCursor }"},
                    headers=b.headers(owner),
                )
            ).json()["data"]["meImageEventCursor"]
            fresh = ResumingSubscriber(b, owner, fresh_cursor)
            fresh.start()
            assert await traffic.upload(a, 99) == "ok"
            last = (
                await http.post(
                    a.graphql_url,
                    json={"query": "{ meImageEventCursor }"},
                    headers=a.headers(owner),
                )
            ).json()["data"]["meImageEventCursor"]
            await fresh.wait_for_cursor(last)
            assert fresh.interruptions == 0
            await fresh.stop()

            # The subscriber that lived through the outage (its stream kept open, or
            # resumed from its cursor if it broke) saw the log exactly: nothing lost,
            # nothing twice, in order.
            await watcher.wait_for_cursor(last)
            await watcher.stop()
            logged = await replay(a, owner, cursor, last)
            assert [e["cursor"] for e in watcher.events] == [e["cursor"] for e in logged]

        for server in (a, b):
            assert server.alive(), server.log_tail()
    finally:
        a.stop()
        b.stop()
    assert violations(await backend.db_state(), backend.blobs()) == []
    assert await duplicate_slots(private_pg.dsn("meimages")) == []
    assert traffic.count("unavailable:") >= OUTAGE_REFUSALS
