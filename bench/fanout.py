"""Subscription fan-out: publish-to-delivery latency and memory per idle subscription.

    .venv/bin/python -m bench.fanout [--database-url URL] [--events 60] [--idle 5000]

Starts `meimages serve` (SQLite in a temporary folder unless --database-url is given),
then, over graphql-transport-ws on loopback:

* latency: 1, 100 and 1,000 subscriptions of one owner (20 per connection, the server's
  cap); each mutation (an AI opt-in toggle over HTTP) is timed from the event's
  `occurredAt` (taken by the server just before the writing transaction commits) to the
  moment the client has read it, for every subscriber; p50 / p99 / max over all; the
  server's CPU per event and per delivery (mutations included), and its resident set
  growth per subscription while they are open;
* memory: the server's resident set size before and after opening 5,000 idle
  subscriptions (250 connections x 20, one owner per connection), per subscription.

Client and server share the machine; the client reads every copy of every event in one
Python process, so the high fan-out figures include its own queueing. Bounded: every wait
has a timeout, and the whole run takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.short import parse_args, server_spawn
from testbed.graphql import GraphQLClient
from testbed.images import jpeg
from testbed.server import LiveServer, Spawn, start_server
from testbed.wire import TRANSPORT_WS, init, subscribe

PER_CONNECTION = 20
SETTLE_S = 1.0
SUBSCRIPTION = """subscription($after: String) { meImageEvents(after: $after) {
  ... on MeImageEvent { type cursor occurredAt image { id kind usage { aiReference } thumbnailUrl } }
  ... on Error { code message } } }"""
TOGGLE = "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on) { __typename } }"


@contextmanager
def serve(database_url: str | None, spawn: Spawn) -> Iterator[LiveServer]:
    with tempfile.TemporaryDirectory(prefix="meimages-fanout-") as tmp:
        # One owner opens up to 1,000 subscriptions at once: the per-owner request limit,
        # which counts each WebSocket operation, is off (this measures fan-out).
        settings = {"MEIMAGES_RATE_REQUESTS_PER_SECOND": "0"}
        if database_url:
            settings["MEIMAGES_DATABASE_URL"] = database_url
        server = start_server(Path(tmp), settings, spawn=spawn)
        try:
            yield server
        finally:
            server.stop()


@dataclass
class Subscriptions:
    """Many subscriptions over a few connections, recording each delivery's latency."""

    server: LiveServer
    owner: str
    count: int
    connections: list[ClientConnection] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    # Events every subscription has; waiters are woken only when it grows, so the
    # readers do little per frame besides timing it.
    complete: int = 0
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def open(self, after: str) -> None:
        await self.connect()
        await self.subscribe(after)

    async def connect(self) -> None:
        for _ in range(-(-self.count // PER_CONNECTION)):
            ws = await connect(
                self.server.ws_url, subprotocols=[TRANSPORT_WS], open_timeout=30, max_size=None
            )
            token = self.server.token(self.owner)
            assert (await init(ws, token))["type"] == "connection_ack"
            self.connections.append(ws)
            self.readers.append(asyncio.create_task(self._read(ws)))

    async def subscribe(self, after: str) -> None:
        remaining = self.count
        for ws in self.connections:
            for n in range(min(PER_CONNECTION, remaining)):
                await subscribe(ws, str(n), SUBSCRIPTION, {"after": after})
            remaining -= PER_CONNECTION

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            received = time.time()
            message = json.loads(raw)
            if message.get("type") == "error":
                raise RuntimeError(f"subscription refused: {message}")
            if message.get("type") != "next":
                continue
            event = message["payload"]["data"]["meImageEvents"]
            published = datetime.fromisoformat(event["occurredAt"]).timestamp()
            self.latencies.append(received - published)
            copies = self.seen[event["cursor"]] = self.seen.get(event["cursor"], 0) + 1
            if copies == self.count:
                self.complete += 1
                async with self.arrived:
                    self.arrived.notify_all()

    async def wait_delivered(self, cursor_count: int) -> None:
        """Until `cursor_count` distinct events reached every subscription."""
        async with asyncio.timeout(60), self.arrived:
            await self.arrived.wait_for(lambda: self.complete >= cursor_count)

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        for ws in self.connections:
            await ws.close()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def upload(client: GraphQLClient, owner: str) -> str:
    image = await client.upload_image(
        jpeg(7), user=owner, fields="__typename ... on MeImage { id }", filename="bench.jpg"
    )
    return str(image["id"])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def latency(server: LiveServer, subscribers: int, events: int) -> dict[str, Any]:
    owner = f"bench-{secrets.token_hex(4)}"
    async with httpx.AsyncClient(timeout=30) as http:
        client = server.graphql(http)
        image = await upload(client, owner)
        cursor = (await client.gql("{ meImageEventCursor }", user=owner))["meImageEventCursor"]
        subs = Subscriptions(server, owner, subscribers)
        rss = server.rss_bytes()
        await subs.open(cursor)
        try:
            # A first event that every subscription must see proves all of them live.
            await client.gql(TOGGLE, {"id": image, "on": True}, user=owner)
            await subs.wait_delivered(1)
            rss = server.rss_bytes() - rss
            subs.latencies.clear()
            started, cpu = time.monotonic(), server.cpu_seconds()
            for n in range(events):
                await client.gql(TOGGLE, {"id": image, "on": n % 2 == 1}, user=owner)
                await subs.wait_delivered(2 + n)
            elapsed = time.monotonic() - started
            # Includes serving the mutations themselves (one per event).
            cpu = server.cpu_seconds() - cpu
        finally:
            await subs.close()
    ms = [v * 1000 for v in subs.latencies]
    assert len(ms) == events * subscribers, (len(ms), events * subscribers)
    return {
        "subscribers": subscribers,
        "deliveries": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "mean_ms": statistics.fmean(ms),
        "events_per_s": events / elapsed,
        "server_cpu_ms_per_event": 1000 * cpu / events,
        "server_cpu_us_per_delivery": 1e6 * cpu / len(ms),
        "rss_kib_per_subscription": rss / subscribers / 1024,
    }


async def idle_memory(server: LiveServer, total: int, settle_s: float) -> dict[str, Any]:
    """RSS before and after `total` idle subscriptions; `settle_s`: the pause that lets
    the server's memory settle after each step (longer ones after the larger steps)."""
    connections = total // PER_CONNECTION
    groups = [
        Subscriptions(server, f"idle-{n}-{secrets.token_hex(3)}", PER_CONNECTION)
        for n in range(connections)
    ]
    last = groups[-1]
    async with httpx.AsyncClient(timeout=30) as http:
        client = server.graphql(http)
        # Warm up code paths and caches (upload, a toggle, one subscription) before the
        # baseline, so the figure holds subscriptions only.
        image = await upload(client, last.owner)
        await client.gql(TOGGLE, {"id": image, "on": True}, user=last.owner)
        warm = Subscriptions(server, "idle-warmup", 1)
        await warm.open("bWUxOjA")
        await asyncio.sleep(settle_s)
        before = server.rss_bytes()
        try:
            for group in groups:
                await group.connect()
            await asyncio.sleep(2 * settle_s)
            connected = server.rss_bytes()
            cursor = (await client.gql("{ meImageEventCursor }", user=last.owner))[
                "meImageEventCursor"
            ]
            for group in groups:
                await group.subscribe(cursor)
            # The groups subscribed in order: once one change reaches all 20 of the last
            # group, every subscription is settled and idle.
            await client.gql(TOGGLE, {"id": image, "on": False}, user=last.owner)
            await last.wait_delivered(1)
            await asyncio.sleep(3 * settle_s)
            after = server.rss_bytes()
            assert not any(task.done() for group in groups for task in group.readers)
        finally:
            for group in groups:
                await group.close()
            await warm.close()
    count = connections * PER_CONNECTION
    return {
        "subscriptions": count,
        "connections": connections,
        "rss_before_mib": before / 2**20,
        "rss_after_mib": after / 2**20,
        "kib_per_subscription": (after - before) / count / 1024,
        "kib_per_subscription_without_connection": (after - connected) / count / 1024,
        "kib_per_connection": (connected - before) / connections / 1024,
    }


async def run(args: argparse.Namespace) -> None:
    backend = "postgresql" if args.database_url else "sqlite"
    spawn = server_spawn(args.quick)
    if args.idle:
        # A fresh process: memory freed by an earlier run would be reused and hide growth.
        with serve(args.database_url, spawn) as server:
            # A quick run's figures are not judged: it lets memory settle for less.
            memory = await idle_memory(server, args.idle, SETTLE_S / 10 if args.quick else SETTLE_S)
        print(
            f"{backend}: {memory['subscriptions']} idle subscriptions on "
            f"{memory['connections']} connections: RSS {memory['rss_before_mib']:.1f} -> "
            f"{memory['rss_after_mib']:.1f} MiB = {memory['kib_per_subscription']:.1f} KiB per "
            f"subscription ({memory['kib_per_subscription_without_connection']:.1f} KiB for "
            f"the subscription itself, {memory['kib_per_connection']:.1f} KiB per connection)"
        )
    with serve(args.database_url, spawn) as server:
        print(f"{backend}: publish-to-delivery latency")
        print(
            "subscribers  deliveries   p50 ms   p99 ms   max ms  events/s  CPU ms/event"
            "  CPU us/delivery  RSS KiB/sub"
        )
        for subscribers in args.subscribers:
            events = args.events if subscribers < 1000 else max(10, args.events // 3)
            row = await latency(server, subscribers, events)
            print(
                f"{row['subscribers']:>11}  {row['deliveries']:>10}  {row['p50_ms']:>7.1f}"
                f"  {row['p99_ms']:>7.1f}  {row['max_ms']:>7.1f}  {row['events_per_s']:>8.1f}"
                f"  {row['server_cpu_ms_per_event']:>12.1f}"
                f"  {row['server_cpu_us_per_delivery']:>15.0f}"
                f"  {row['rss_kib_per_subscription']:>11.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--events", type=int, default=60, help="events per latency run")
    parser.add_argument(
        "--subscribers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 100, 1000],
        help="comma-separated subscriber counts",
    )
    parser.add_argument("--idle", type=int, default=5000, help="idle subscriptions (0: skip)")
    asyncio.run(run(parse_args(parser, events=5, subscribers=[1, 20], idle=50)))


if __name__ == "__main__":
    main()
