"""Mixed traffic against live servers while something around them fails, and the judge of
every answer: each must be a success or a typed "retry later", never a 500, a traceback or
a hang."""

from __future__ import annotations

import asyncio
import functools
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from testbed.graphql import bearer, operation, upload_form
from testbed.images import jpeg
from testbed.server import LiveServer
from testbed.wire import init, receive, subscribe, ws_connection

# A request that has not answered in this long counts as a hang (the stores give up in
# seconds: connect timeout 5 s, pool timeout 10 s, S3 retries bounded at 20 s).
REQUEST_BOUND_S = 45.0
RETRYABLE = {"SERVICE_UNAVAILABLE", "STORAGE_FULL"}

IMAGE = "__typename ... on MeImage { id publicUrl } ... on Error { code message }"
LIST = "{ meImages { id primaryFor usage { aiReference } } }"
TOGGLE = (
    "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on)"
    " { __typename ... on Error { code } } }"
)
PRIMARY = "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename ... on Error { code } } }"
EVENTS = (
    "subscription($after: String) { meImageEvents(after: $after) { __typename"
    " ... on MeImageEvent { type imageId cursor } ... on Error { code } } }"
)


def graphql_outcome(response: httpx.Response) -> str:
    """ "ok", "unavailable:<CODE>", or what went wrong, judged from one GraphQL answer."""
    if response.status_code >= 500 and response.status_code not in (503, 507):
        return f"http {response.status_code}"
    try:
        body = response.json()
    except json.JSONDecodeError:
        return f"not json ({response.status_code})"
    if "Traceback" in response.text:
        return "traceback"
    errors = body.get("errors") or []
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    if errors:
        retryable = codes & RETRYABLE
        if retryable and codes <= RETRYABLE:
            extensions = errors[0].get("extensions") or {}
            if response.status_code in (503, 507) and "retry-after" not in response.headers:
                return "no Retry-After"
            if extensions.get("retryable") is not True and response.status_code == 200:
                return "not marked retryable"
            return f"unavailable:{retryable.pop()}"
        return f"errors {sorted(map(str, codes))}"
    data = body.get("data") or {}
    for value in data.values():
        if isinstance(value, dict) and value.get("code"):
            code = value["code"]
            return f"unavailable:{code}" if code in RETRYABLE else f"typed {code}"
    return "ok"


def media_outcome(response: httpx.Response) -> str:
    if response.status_code == 200:
        return "ok"
    if response.status_code in (503, 507):
        if "retry-after" not in response.headers:
            return "no Retry-After"
        return "unavailable:SERVICE_UNAVAILABLE"
    return f"media http {response.status_code}"


@dataclass
class Traffic:
    """Clients of one owner doing uploads, reads, media fetches, toggles and slot swaps
    on several instances at once; every answer is tallied by operation and outcome."""

    servers: Sequence[LiveServer]
    owner: str
    http: httpx.AsyncClient
    images: list[dict[str, Any]] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def count(self, outcome_prefix: str) -> int:
        return sum(n for (_, out), n in self.outcomes.items() if out.startswith(outcome_prefix))

    def failures(self) -> dict[tuple[str, str], int]:
        """Every tallied answer that is neither a success nor a typed retry-later."""
        return {
            key: n
            for key, n in self.outcomes.items()
            if key[1] != "ok" and not key[1].startswith("unavailable:")
        }

    async def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        async with asyncio.timeout(300), self.changed:  # a safety net, not a verdict
            await self.changed.wait_for(predicate)

    async def _tally(self, op: str, call: Callable[[], Awaitable[str]]) -> None:
        try:
            async with asyncio.timeout(REQUEST_BOUND_S):
                outcome = await call()
        except TimeoutError:
            outcome = "hang"
        except httpx.HTTPError as error:
            outcome = f"transport {type(error).__name__}"
        async with self.changed:
            self.outcomes[(op, outcome)] += 1
            self.changed.notify_all()

    def _headers(self, server: LiveServer, *, preflight: bool = False) -> dict[str, str]:
        return bearer(server.token(self.owner), preflight=preflight)

    async def _graphql(self, server: LiveServer, query: str, variables: dict[str, Any]) -> str:
        response = await self.http.post(
            server.graphql_url, json=operation(query, variables), headers=self._headers(server)
        )
        return graphql_outcome(response)

    async def upload(self, server: LiveServer, seed: int) -> str:
        form = upload_form(jpeg(seed), fields=IMAGE)
        response = await self.http.post(
            server.graphql_url, headers=self._headers(server, preflight=True), **form
        )
        outcome = graphql_outcome(response)
        if outcome == "ok":
            self.images.append(response.json()["data"]["uploadMeImage"])
        return outcome

    async def read(self, server: LiveServer) -> str:
        return await self._graphql(server, LIST, {})

    async def media(self, server: LiveServer) -> str:
        url = str(random.choice(self.images)["publicUrl"])
        if url.startswith("/"):  # relative to the instance that answered
            url = server.url + url
        response = await self.http.get(url, headers=self._headers(server))
        return media_outcome(response)

    async def toggle(self, server: LiveServer, n: int) -> str:
        image = random.choice(self.images)
        return await self._graphql(server, TOGGLE, {"id": image["id"], "on": n % 2 == 0})

    async def swap(self, server: LiveServer) -> str:
        return await self._graphql(server, PRIMARY, {"id": random.choice(self.images)["id"]})

    def start(self, iterations: int = 2000) -> None:
        """One client per kind of call, round-robin over the instances, until `stop()`
        (or `iterations` calls each: every loop here is bounded)."""
        assert self.images, "upload a first image before starting the traffic"

        async def loop(op: str, call: Callable[[LiveServer, int], Awaitable[str]]) -> None:
            for n in range(iterations):
                if self._stop.is_set():
                    return
                server = self.servers[n % len(self.servers)]
                await self._tally(op, functools.partial(call, server, n))
                await asyncio.sleep(0.01)  # pacing only; nothing waits on it

        calls: dict[str, Callable[[LiveServer, int], Awaitable[str]]] = {
            "upload": lambda s, n: self.upload(s, 10_000 + n),
            "read": lambda s, n: self.read(s),
            "media": lambda s, n: self.media(s),
            "toggle": lambda s, n: self.toggle(s, n),
            "swap": lambda s, n: self.swap(s),
        }
        self._tasks = [asyncio.create_task(loop(op, call)) for op, call in calls.items()]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


@dataclass
class ResumingSubscriber:
    """A graphql-transport-ws subscriber that, whenever its stream breaks (an error, a
    closed socket), subscribes again from the last cursor it saw, as a client should."""

    server: LiveServer
    owner: str
    after: str
    events: list[dict[str, Any]] = field(default_factory=list)
    interruptions: int = 0
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None

    def start(self, max_sessions: int = 500) -> None:
        async def run() -> None:
            for _ in range(max_sessions):
                try:
                    await self._session()
                except (OSError, TimeoutError, ValueError, KeyError) as error:
                    self.interruptions += 1
                    del error
                except Exception as error:  # websockets' ConnectionClosed and friends
                    if "ConnectionClosed" not in type(error).__name__:
                        raise
                    self.interruptions += 1
                await asyncio.sleep(0.2)  # a client's reconnect pause; nothing waits on it

        self._task = asyncio.create_task(run())

    async def _session(self) -> None:
        async with ws_connection(self.server.ws_url) as ws:
            assert (await init(ws, self.server.token(self.owner)))["type"] == "connection_ack"
            await subscribe(ws, "1", EVENTS, {"after": self.after})
            while True:
                message = await receive(ws)
                if message["type"] != "next" or message["payload"].get("errors"):
                    self.interruptions += 1
                    return  # an error or a complete: resume from the cursor
                item = message["payload"]["data"]["meImageEvents"]
                if item["__typename"] != "MeImageEvent":
                    self.interruptions += 1
                    return
                async with self.arrived:
                    self.events.append(item)
                    self.after = item["cursor"]
                    self.arrived.notify_all()

    async def wait_for_cursor(self, cursor: str) -> None:
        async with asyncio.timeout(300), self.arrived:  # a safety net, not a verdict
            await self.arrived.wait_for(lambda: any(e["cursor"] == cursor for e in self.events))

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def replay(server: LiveServer, owner: str, after: str, until: str) -> list[dict[str, Any]]:
    """Every event of `owner` after `after` up to `until`, read afresh from the log."""
    events: list[dict[str, Any]] = []
    async with ws_connection(server.ws_url) as ws:
        assert (await init(ws, server.token(owner)))["type"] == "connection_ack"
        await subscribe(ws, "1", EVENTS, {"after": after})
        async with asyncio.timeout(300):
            while not events or events[-1]["cursor"] != until:
                message = await receive(ws)
                assert message["type"] == "next", message
                events.append(message["payload"]["data"]["meImageEvents"])
    return events
