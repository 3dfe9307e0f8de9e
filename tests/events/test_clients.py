"""Real clients of every transport against a live server: mutations over HTTP arrive as
events, only to their owner and space; the doors stay shut without a valid token."""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Origin, Subprotocol

from schema.tokens import TOKEN_LEEWAY_S
from testbed.server import LiveServer
from testbed.wire import LEGACY_WS, init, receive, send, sse_events, subscribe, ws_connection
from tests.events.conftest import (
    SUBSCRIPTION,
    Subscriber,
    event_cursor,
    new_owner,
    set_ai,
    upload,
)
from tests.support.node import ROOT, ensure_node_modules

SET_PRIMARY = (
    "mutation($id: ID!, $slot: PrimarySlot) { setPrimary(id: $id, slot: $slot) { __typename } }"
)
UPDATE = "mutation($id: ID!, $input: UpdateMeImageInput!) { updateMeImage(id: $id, input: $input) { __typename } }"
DELETE = "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }"


@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
async def test_gql_client_receives_every_kind_of_event_with_its_state(
    live: LiveServer, http: httpx.AsyncClient, subprotocol: str
) -> None:
    owner = new_owner()
    start = await event_cursor(http, live, user=owner)
    subscriber = Subscriber(live, owner, subprotocols=[subprotocol])
    await subscriber.start(start)
    try:
        first = await upload(http, live, 1, user=owner, input={"kind": "FACE", "label": "one"})
        await live.graphql(http).gql(
            UPDATE,
            {"id": first["id"], "input": {"label": "renamed", "tags": ["a", "b"]}},
            user=owner,
        )
        await set_ai(http, live, first["id"], True, user=owner)
        await live.graphql(http).gql(
            SET_PRIMARY, {"id": first["id"], "slot": "FACE_REF"}, user=owner
        )
        # The second upload claims the slot: the first holder loses it in the same commit.
        second = await upload(http, live, 2, user=owner, input={"primaryFor": "FACE_REF"})
        await live.graphql(http).gql(DELETE, {"id": second["id"]}, user=owner)
        events = await subscriber.wait_for(8)
    finally:
        await subscriber.stop()

    assert [(e["type"], e["imageId"]) for e in events] == [
        ("ADDED", first["id"]),
        ("UPDATED", first["id"]),
        ("AI_REFERENCE_TOGGLED", first["id"]),
        ("PRIMARY_CHANGED", first["id"]),
        ("ADDED", second["id"]),
        ("PRIMARY_CHANGED", first["id"]),
        ("PRIMARY_CHANGED", second["id"]),
        ("DELETED", second["id"]),
    ]
    added, updated, toggled, claimed, added2, lost, won, deleted = events
    # Each event carries the image as that change left it.
    assert added["image"]["label"] == "one" and added["image"]["kind"] == "FACE"
    assert added["image"]["usage"] == {"aiReference": False, "showInProfile": True}
    assert updated["changedFields"] == ["label", "tags"]
    assert (updated["image"]["label"], updated["image"]["tags"]) == ("renamed", ["a", "b"])
    assert toggled["enabled"] is True and toggled["image"]["usage"]["aiReference"] is True
    assert (claimed["slot"], claimed["previousSlot"]) == ("FACE_REF", None)
    assert claimed["image"]["primaryFor"] == "FACE_REF"
    assert added2["image"]["primaryFor"] is None
    assert (lost["slot"], lost["previousSlot"], lost["image"]["primaryFor"]) == (
        None,
        "FACE_REF",
        None,
    )
    assert (won["slot"], won["image"]["primaryFor"]) == ("FACE_REF", "FACE_REF")
    assert deleted["image"] is None
    assert (deleted["kind"], deleted["previousSlot"]) == ("REFERENCE", "FACE_REF")
    assert all(e["__typename"] == "MeImageEvent" for e in events)
    assert len({e["cursor"] for e in events}) == 8

    # Replaying from the same cursor later gives the very same events, states included.
    replay = Subscriber(live, owner)
    await replay.start(start)
    try:
        assert await replay.wait_for(8) == events
    finally:
        await replay.stop()


def _node(server: LiveServer, token: str, after: str, count: int, *protocols: str) -> Any:
    """The npm clients of `protocols` (ws, sse), each subscribed on its own connection, in
    one Node process."""
    return asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(ROOT / "tests" / "events" / "clients.mjs"),
        server.graphql_url,
        token,
        after,
        str(count),
        *protocols,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )


async def _outcomes(proc: asyncio.subprocess.Process) -> dict[str, dict[str, Any]]:
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    result: dict[str, dict[str, Any]] = json.loads(stdout.decode().strip().splitlines()[-1])
    return result


async def test_npm_graphql_ws_and_graphql_sse_clients_receive_http_mutations(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    await asyncio.to_thread(ensure_node_modules)
    owner, other = new_owner(), new_owner("other")
    start = await event_cursor(http, live, user=owner)
    token = live.token(owner)
    clients = await _node(live, token, start, 6, "ws", "sse")
    image = await upload(http, live, 3, user=owner)
    noise = await upload(http, live, 4, user=other)
    for enabled in (True, False, True, False, True):
        await set_ai(http, live, image["id"], enabled, user=owner)
        await set_ai(http, live, noise["id"], enabled, user=other)
    outcomes = await _outcomes(clients)
    over_ws, over_sse = outcomes["ws"], outcomes["sse"]

    for outcome in (over_ws, over_sse):
        assert "error" not in outcome, outcome
        events = outcome["events"]
        assert [e["type"] for e in events] == ["ADDED"] + ["AI_REFERENCE_TOGGLED"] * 5
        assert {e["imageId"] for e in events} == {image["id"]}
        assert [e["enabled"] for e in events[1:]] == [True, False, True, False, True]
        assert [e["image"]["usage"]["aiReference"] for e in events[1:]] == [
            True,
            False,
            True,
            False,
            True,
        ]
    assert over_ws["events"] == over_sse["events"]


async def test_each_subscriber_sees_only_its_owner_and_space(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    owners = [new_owner("a"), new_owner("b")]
    spaces = [None, "brand"]
    streams = [(o, s) for o in owners for s in spaces]
    subscribers: dict[tuple[str, str | None], Subscriber] = {}
    for owner, space in streams:
        subscriber = Subscriber(live, owner, space)
        await subscriber.start(await event_cursor(http, live, user=owner, space=space))
        subscribers[(owner, space)] = subscriber
    try:
        images: dict[tuple[str, str | None], list[str]] = {key: [] for key in streams}
        # Interleaved writes to all four pools, so every subscriber is live while the
        # other three change.
        for seed in range(3):
            for key in streams:
                image = await upload(http, live, 10 + seed, user=key[0], space=key[1])
                images[key].append(image["id"])
        for key in streams:
            await set_ai(http, live, images[key][0], True, user=key[0], space=key[1])
        # A last event per stream: if anything foreign had been delivered, it would sit
        # before this one and break the exact comparison below.
        for key in streams:
            await set_ai(http, live, images[key][1], True, user=key[0], space=key[1])
        for key, subscriber in subscribers.items():
            events = await subscriber.wait_for(5)
            assert [(e["type"], e["imageId"]) for e in events] == [
                ("ADDED", images[key][0]),
                ("ADDED", images[key][1]),
                ("ADDED", images[key][2]),
                ("AI_REFERENCE_TOGGLED", images[key][0]),
                ("AI_REFERENCE_TOGGLED", images[key][1]),
            ]
    finally:
        for subscriber in subscribers.values():
            await subscriber.stop()


async def test_a_commit_wakes_subscribers_at_once(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()
    image = await upload(http, live, 5, user=owner)
    subscriber = Subscriber(live, owner)
    await subscriber.start(await event_cursor(http, live, user=owner))
    try:
        # Each change is delivered before the next one is made: the commit itself wakes
        # the reader (that idle readers never poll is counted in test_log.py).
        for n in range(10):
            await set_ai(http, live, image["id"], n % 2 == 0, user=owner)
            events = await subscriber.wait_for(n + 1)
            assert [e["enabled"] for e in events] == [m % 2 == 0 for m in range(n + 1)]
    finally:
        await subscriber.stop()


async def test_connections_without_a_valid_token_are_refused(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    expired = live.token(new_owner(), ttl_s=-120)
    for payload in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": expired}):
        async with ws_connection(live.ws_url) as ws:
            await send(ws, {"type": "connection_init", "payload": payload})
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await receive(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    # Subscribing before an acknowledged init is refused too.
    async with ws_connection(live.ws_url) as ws:
        await subscribe(ws, "1", SUBSCRIPTION)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    async with ws_connection(live.ws_url, protocol=LEGACY_WS) as ws:
        await send(ws, {"type": "connection_init", "payload": {"token": "forged"}})
        refused = await receive(ws)
        assert refused["type"] == "connection_error"
        assert "not valid" in refused["payload"]["message"]
    # A valid token may also come in the handshake's Authorization header.
    owner = new_owner()
    headers = {"Authorization": f"Bearer {live.token(owner)}"}
    async with ws_connection(live.ws_url, additional_headers=headers) as ws:
        await send(ws, {"type": "connection_init", "payload": {}})
        assert (await receive(ws))["type"] == "connection_ack"
        await subscribe(
            ws, "1", SUBSCRIPTION, {"after": await event_cursor(http, live, user=owner)}
        )
        image = await upload(http, live, 6, user=owner)
        added = (await receive(ws))["payload"]["data"]["meImageEvents"]
        assert (added["type"], added["imageId"]) == ("ADDED", image["id"])
    response = await http.post(
        live.graphql_url,
        json={"query": SUBSCRIPTION},
        headers={"Accept": "text/event-stream", "Authorization": "Bearer forged"},
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_subscriptions_end_with_a_typed_error_when_the_token_expires(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    owner = new_owner()

    async def over_websocket(token: str) -> list[dict[str, Any]] | None:
        async with ws_connection(live.ws_url) as ws:
            answer = await init(ws, token)
            if answer["type"] != "connection_ack":
                assert "expired" in json.dumps(answer), answer
                return None  # expired on the way in: a slow start, not a verdict
            await subscribe(ws, "1", SUBSCRIPTION)
            messages = [await receive(ws)]
            messages.append(await receive(ws))
            return messages

    async def over_sse(token: str) -> list[tuple[str, Any]] | None:
        try:
            return [item async for item in sse_events(http, live.graphql_url, token, SUBSCRIPTION)]
        except AssertionError as refused:  # sse_events demands a 200
            assert "expired" in str(refused), refused
            return None

    # A token honoured for a few seconds more (its `exp` lies within the clock leeway
    # already). Should it expire before a connection is even made — a slow or busy
    # machine — the same checks run again with a token that lives twice as long, so the
    # verdict does not depend on the machine's speed.
    for ttl_s in (2, 4, 8, 16, 32, 64):
        token = live.token(owner, ttl_s=ttl_s - TOKEN_LEEWAY_S)
        # Both end by themselves at the token's expiry; the timeout only guards a hang.
        ws_messages, sse_items = await asyncio.wait_for(
            asyncio.gather(over_websocket(token), over_sse(token)), 120 + ttl_s
        )
        if ws_messages is not None and sse_items is not None:
            break
    else:
        raise AssertionError("every token expired before its connection was made")
    ended = ws_messages[0]["payload"]["data"]["meImageEvents"]
    assert ended["__typename"] == "TokenExpiredError"
    assert ended["code"] == "TOKEN_EXPIRED" and "expired" in ended["message"]
    assert ws_messages[1] == {"id": "1", "type": "complete"}
    assert [name for name, _ in sse_items] == ["next", "complete"]
    assert sse_items[0][1]["data"]["meImageEvents"]["code"] == "TOKEN_EXPIRED"


async def test_connection_limits_stay_on(live: LiveServer) -> None:
    token = live.token(new_owner())
    # A cap on operations per connection.
    async with ws_connection(live.ws_url) as ws:
        await init(ws, token)
        for n in range(21):
            await subscribe(ws, str(n), SUBSCRIPTION)
        refused = await asyncio.wait_for(receive(ws), 60)
        assert refused["id"] == "20" and refused["type"] == "error"
        assert refused["payload"][0]["message"] == "Subscription limit reached"
    # A cap on message size.
    async with ws_connection(live.ws_url) as ws:
        await init(ws, token)
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": "#" * 70_000}})
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    # Browsers on foreign origins cannot open a socket (cookies are not our auth, but
    # the check stays on).
    with pytest.raises(websockets.InvalidStatus) as refused_origin:
        async with ws_connection(live.ws_url, origin=Origin("https://evil.example")):
            pass
    assert refused_origin.value.response.status_code == 403


@pytest.mark.parametrize("protocol", [None, LEGACY_WS])
async def test_a_connection_that_never_initialises_is_closed(
    quick_to_close: LiveServer, protocol: Subprotocol | None
) -> None:
    """Both protocols close it (4408) once the initialisation timeout has passed."""
    kwargs: dict[str, Subprotocol] = {"protocol": protocol} if protocol else {}
    async with ws_connection(quick_to_close.ws_url, **kwargs) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 60)  # guards a hang only
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
