"""Requests per second: 429 with `Retry-After` in each HTTP door's shape, and operation by
operation over a WebSocket.

A one-second window cannot be judged against a real clock without depending on the
machine's speed, so these tests stop the counters' clock (the memory backend's and the
retry computation's) and move it by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace

import limits.aio.storage.memory
import pytest
import pytest_asyncio
from starlette.testclient import TestClient

import storage.rate_counters
from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from testbed.images import jpeg
from tests.support.app import Api, running_api

LIMIT = 3


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    stopped = SimpleNamespace(time=clock.time)
    monkeypatch.setattr(limits.aio.storage.memory, "time", stopped)
    monkeypatch.setattr(storage.rate_counters, "time", stopped)
    yield clock


@pytest_asyncio.fixture
async def api(tmp_path: Path, clock: Clock) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path, rate_requests_per_second=LIMIT)
    async with running_api(settings, "sqlite") as running:
        yield running


async def test_graphql_requests_over_the_limit_get_429_with_retry_after(
    api: Api, clock: Clock
) -> None:
    headers = api.headers("rps-owner")
    responses = await asyncio.gather(
        *(
            api.client.post("/graphql", json={"query": "{ profile { credits } }"}, headers=headers)
            for _ in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * LIMIT + [429] * (10 - LIMIT)
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["Retry-After"] == "1"
    error = refused.json()["errors"][0]
    assert error["extensions"].pop("requestId")
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 1}
    assert f"{LIMIT} requests per second" in error["message"]

    # GET (the query cache's path) is the same door; other owners have windows of their own.
    got = await api.client.get(
        "/graphql", params={"query": "{ profile { credits } }"}, headers=headers
    )
    assert got.status_code == 429
    other = await api.client.post(
        "/graphql", json={"query": "{ profile { credits } }"}, headers=api.headers("other")
    )
    assert other.status_code == 200
    # Without a valid token the door answers 401 in its own words, never 429.
    anonymous = await api.client.post("/graphql", json={"query": "{ profile { credits } }"})
    assert anonymous.status_code == 401

    clock.now += 1.01  # the window has moved on
    again = await api.client.post(
        "/graphql", json={"query": "{ profile { credits } }"}, headers=headers
    )
    assert again.status_code == 200, again.text


async def test_rest_upload_over_the_limit_gets_429_in_the_rest_shape(api: Api) -> None:
    for _ in range(LIMIT):
        stored = await api.rest_upload(jpeg(1), user="rest-owner")
        assert stored.status_code == 201, stored.text
    refused = await api.rest_upload(jpeg(2), user="rest-owner")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"] == {
        "code": "RATE_LIMITED",
        "message": f"rate limit reached ({LIMIT} requests per second); retry in 1 s",
        "limit": f"{LIMIT} requests per second",
        "retryAfter": 1,
    }


def test_websocket_operations_count_one_by_one(tmp_path: Path, clock: Clock) -> None:
    app = create_app(Settings(data_dir=tmp_path, rate_requests_per_second=LIMIT))
    token = issue_token(app.state.server.settings, "ws-owner")
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert ws.receive_json()["type"] == "connection_ack"

        def run(n: int) -> dict[str, object]:
            """One operation to its end: `next` then `complete`, or an `error`."""
            subscribe = {"query": "{ meImageEventCursor }"}
            ws.send_json({"id": str(n), "type": "subscribe", "payload": subscribe})
            first: dict[str, object] = ws.receive_json()
            if first["type"] == "next":
                assert ws.receive_json() == {"id": str(n), "type": "complete"}
            return first

        outcomes = [run(n) for n in range(LIMIT + 2)]
        assert [o["type"] for o in outcomes] == ["next"] * LIMIT + ["error"] * 2
        assert outcomes[-1]["payload"] == [
            {
                "message": f"rate limit reached ({LIMIT} requests per second); retry in 1 s",
                "extensions": {"code": "RATE_LIMITED", "retryAfter": 1},
            }
        ]
        clock.now += 1.01
        assert run(LIMIT + 2)["type"] == "next"
