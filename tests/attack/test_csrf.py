"""CSRF against the live server: what a hostile page can make a browser send is refused.

A page on another origin can send GET, and POST with multipart, url-encoded or text/plain
bodies, without a CORS preflight. Each is refused unless it carries a preflight header
(which a page cannot add without CORS) and nothing changes. A page can also open a
WebSocket to any origin; the handshake from a foreign Origin is refused.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets
import websockets.exceptions

from testbed.images import jpeg
from tests.attack.target import Target

KILL_SWITCH = "mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }"
UPLOAD = 'mutation($f: Upload!) { uploadMeImage(file: $f, input: {label: "csrf"}) { __typename } }'
STATE = "{ profile { aiUsesReferenceImages } meImages { id label } }"


def forged_requests(target: Target, user: str) -> list[httpx.Request]:
    """Requests a cross-site page could send with the user's credentials attached."""
    auth = target.headers(user, preflight=False)
    build = httpx.Client(base_url=target.url).build_request
    operations = json.dumps({"query": UPLOAD, "variables": {"f": None}})
    return [
        build(
            "POST",
            "/graphql",
            data={"operations": operations, "map": '{"0": ["variables.f"]}'},
            files={"0": ("me.jpg", jpeg(501), "image/jpeg")},
            headers=auth,
        ),
        build("POST", "/graphql", data={"query": KILL_SWITCH}, headers=auth),
        build(
            "POST",
            "/graphql",
            content=json.dumps({"query": KILL_SWITCH}),
            headers={**auth, "content-type": "text/plain;charset=UTF-8"},
        ),
        # The classic form trick: a text/plain form whose body happens to be JSON.
        build(
            "POST",
            "/graphql",
            content='{"query": "' + KILL_SWITCH + '", "x": "="}',
            headers={**auth, "content-type": "text/plain"},
        ),
        build("GET", "/graphql", params={"query": KILL_SWITCH}, headers=auth),
        build("GET", "/graphql", params={"query": STATE}, headers=auth),
        build("POST", "/graphql", params={"query": KILL_SWITCH}, headers=auth),  # no body
        build(
            "POST",
            "/graphql",
            content=b"--x\r\n",
            headers={**auth, "content-type": "Multipart/Form-Data; boundary=x"},
        ),
    ]


def test_simple_requests_without_preflight_are_refused_and_change_nothing(live: Target) -> None:
    victim = f"csrf-{uuid.uuid4().hex[:8]}"
    before = live.gql(victim, STATE)
    with httpx.Client(timeout=30) as http:
        for request in forged_requests(live, victim):
            response = http.send(request)
            assert response.status_code == 400, (request.method, request.headers, response.text)
            code = response.json()["errors"][0]["extensions"]["code"]
            assert code == "CSRF_PREFLIGHT_REQUIRED"
            assert "aiUsesReferenceImages" not in response.text
    after = live.gql(victim, STATE)
    assert after == before == {"profile": {"aiUsesReferenceImages": True}, "meImages": []}


def test_the_same_requests_with_the_preflight_header_do_work(live: Target) -> None:
    """The control: the refusals above come from the CSRF rule, not from broken requests."""
    user = f"csrf-ok-{uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=30) as http:
        upload = forged_requests(live, user)[0]
        upload.headers["GraphQL-Require-Preflight"] = "1"
        response = http.send(upload)
        assert response.json() == {"data": {"uploadMeImage": {"__typename": "MeImage"}}}
    assert live.gql(user, STATE)["meImages"][0]["label"] == "csrf"


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",  # sandboxed iframes and file:// pages
        "http://127.0.0.1.evil.example",
        "http://localhost:1",  # same host, another port: another origin
    ],
)
@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_cross_origin_websocket_is_refused(live: Target, origin: str, protocol: str) -> None:
    async def handshake() -> int:
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            async with websockets.connect(
                f"ws://127.0.0.1:{live.port}/graphql",
                subprotocols=[protocol],  # type: ignore[list-item]
                origin=origin,  # type: ignore[arg-type]
                additional_headers={"Authorization": f"Bearer {live.token('csrf-ws')}"},
            ):
                pass
        return refused.value.response.status_code

    assert asyncio.run(handshake()) == 403


def test_same_origin_websocket_is_accepted(live: Target) -> None:
    """The control for the refusals above."""

    async def handshake() -> str:
        async with websockets.connect(
            f"ws://127.0.0.1:{live.port}/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            origin=f"http://127.0.0.1:{live.port}",  # type: ignore[arg-type]
        ) as ws:
            init = {"type": "connection_init", "payload": {"token": live.token("csrf-ws")}}
            await ws.send(json.dumps(init))
            return str(await asyncio.wait_for(ws.recv(), 60))

    assert "connection_ack" in asyncio.run(handshake())
