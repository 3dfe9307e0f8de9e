"""`api.request_checks` below the app: each rule called directly, and the middleware
driven with plain ASGI messages (no server, no routing), next to the end-to-end tests
that send the same requests through the whole app (tests/attack)."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from starlette.datastructures import Headers, UploadFile
from starlette.types import Message, Receive, Scope, Send

from api.request_checks import (
    RequestChecks,
    RequestRefused,
    SlowBody,
    check_csrf,
    check_json_body,
    clean_id,
    clean_text,
    deadline_receive,
    graphql_multipart,
    preflight_missing,
    read_body,
    replay_body,
)


@pytest.mark.parametrize(
    ("value", "clean"),
    [
        ("owner-1", True),
        ("été 😀", True),
        ("a\x00b", False),
        ("tab\there", False),
        ("del\x7f", False),
        ("\ud800", False),
        ("\ufffd", False),
    ],
)
def test_clean_text(value: str, clean: bool) -> None:
    assert clean_text(value) is clean


def test_clean_id() -> None:
    assert clean_id("x" * 200)
    assert not clean_id("x" * 201)
    assert not clean_id("")
    assert not clean_id(42)
    assert not clean_id("a\nb")


@pytest.mark.parametrize(
    ("method", "headers", "missing"),
    [
        ("GET", {}, True),
        ("POST", {"content-type": "text/plain"}, True),
        ("POST", {"content-type": "multipart/form-data; boundary=x"}, True),
        ("POST", {"content-type": "application/x-www-form-urlencoded"}, True),
        ("POST", {}, True),
        ("POST", {"content-type": "application/json"}, False),
        ("GET", {"graphql-require-preflight": "1"}, False),
        ("POST", {"content-type": "text/plain", "x-apollo-operation-name": "Q"}, False),
        ("GET", {"apollo-require-preflight": ""}, True),  # an empty value is no header
    ],
)
def test_preflight(method: str, headers: dict[str, str], missing: bool) -> None:
    assert preflight_missing(method, Headers(headers)) is missing
    if missing:
        with pytest.raises(RequestRefused) as refused:
            check_csrf(method, Headers(headers))
        assert refused.value.code == "CSRF_PREFLIGHT_REQUIRED"
    else:
        check_csrf(method, Headers(headers))


@pytest.mark.parametrize("body", [b"{}", b"[]", b' \n\t{"query": 1}', "\ufeff{}".encode()])
def test_json_bodies_that_pass(body: bytes) -> None:
    check_json_body(body)


@pytest.mark.parametrize("body", [b"", b"1", b'"x"', b"null", b"\xff{}", b"query { x }"])
def test_json_bodies_that_are_refused(body: bytes) -> None:
    with pytest.raises(RequestRefused) as refused:
        check_json_body(body)
    assert refused.value.status == 400


# Bodies -----------------------------------------------------------------------------


def messages(*chunks: bytes) -> Receive:
    """A `receive` handing out the body in these chunks, then a disconnect."""
    queue: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    return receive


async def test_read_body_joins_chunks_and_stops_past_the_limit() -> None:
    assert await read_body(messages(b"ab", b"cd", b"e")) == b"abcde"
    assert await read_body(messages(b"ab", b"cd"), limit=4) == b"abcd"
    with pytest.raises(Exception) as refused:
        await read_body(messages(b"ab", b"cd", b"e"), limit=4)
    assert type(refused.value).__name__ == "_TooLarge"


async def test_replay_body_hands_the_read_body_then_the_rest() -> None:
    replay = replay_body(b"read", messages(b"later"))
    assert await replay() == {"type": "http.request", "body": b"read", "more_body": False}
    assert (await replay())["body"] == b"later"


async def test_a_body_that_never_comes_is_a_slow_body() -> None:
    never = asyncio.Event()

    async def stalled() -> Message:
        await never.wait()  # never set: the verdict does not depend on the clock
        raise AssertionError("unreachable")

    with pytest.raises(SlowBody):
        await deadline_receive(stalled, idle_s=0.01, total_s=60)()


async def test_a_body_that_must_be_waited_for_comes_through_the_deadline() -> None:
    """A receive that suspends goes on under the deadline: each wait is the task's, the
    message comes back, and a cancellation reaches the receive itself."""
    arrived, waiting = asyncio.Event(), asyncio.Event()
    closed: list[str] = []

    async def later() -> Message:
        try:
            waiting.set()
            await arrived.wait()
            await asyncio.sleep(0)  # a bare yield, then another wait that is at hand
            return {"type": "http.request", "body": b"late", "more_body": False}
        finally:
            closed.append("receive ended")

    timed = deadline_receive(later, idle_s=60, total_s=60)
    task = asyncio.create_task(timed())
    await waiting.wait()
    arrived.set()
    assert (await task)["body"] == b"late"
    assert closed == ["receive ended"]

    arrived.clear()
    waiting.clear()
    task = asyncio.create_task(deadline_receive(later, idle_s=60, total_s=60)())
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == ["receive ended", "receive ended"]


async def test_a_body_at_hand_is_taken_without_a_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    armed: list[float | None] = []
    timeout = asyncio.timeout

    def counted(delay: float | None) -> asyncio.Timeout:
        armed.append(delay)
        return timeout(delay)

    monkeypatch.setattr(asyncio, "timeout", counted)
    timed = deadline_receive(messages(b"ab", b"cd"), idle_s=5, total_s=5)
    assert (await timed())["body"] == b"ab"
    assert (await timed())["body"] == b"cd"
    assert armed == []
    never = asyncio.Event()

    async def stalled() -> Message:
        await never.wait()
        raise AssertionError("unreachable")

    with pytest.raises(SlowBody):  # a wait is timed, as before
        await deadline_receive(stalled, idle_s=0.01, total_s=5)()
    assert armed == [0.01]


async def test_after_the_body_the_deadline_no_longer_applies() -> None:
    """Waiting for a disconnect (SSE, long answers) is not a body: once the body is
    complete, a wait longer than the idle timeout is no slow body."""
    disconnected = asyncio.Event()
    calls = 0

    async def body_then_disconnect() -> Message:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"all", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def disconnect_later() -> None:
        await asyncio.sleep(0.05)  # at least five idle timeouts pass, on any machine
        disconnected.set()

    timed = deadline_receive(body_then_disconnect, idle_s=0.01, total_s=0.01)
    assert (await timed())["body"] == b"all"
    later = asyncio.create_task(disconnect_later())
    assert (await timed())["type"] == "http.disconnect"
    await later


# Multipart --------------------------------------------------------------------------


def upload() -> UploadFile:
    return UploadFile(io.BytesIO(b"x"), filename="a.jpg")


def test_multipart_places_each_file_at_its_null_variable() -> None:
    file, other = upload(), upload()
    operations = graphql_multipart(
        {
            "operations": json.dumps(
                {"query": "q", "variables": {"file": None, "files": [None, None]}}
            ),
            "map": json.dumps({"0": ["variables.file"], "1": ["variables.files.1"]}),
            "0": file,
            "1": other,
        }
    )
    assert operations["variables"] == {"file": file, "files": [None, other]}


@pytest.mark.parametrize(
    ("operations", "files_map"),
    [
        ([], {"0": ["variables.file"]}),  # batching
        ({"variables": 1}, {"0": ["variables.file"]}),
        ({"variables": {"file": None}}, []),
        ({"variables": {"file": None}}, {"0": []}),
        ({"variables": {"file": None}}, {"9": ["variables.file"]}),  # no such part
        ({"variables": {"file": "taken"}}, {"0": ["variables.file"]}),
        ({"variables": {"file": None}}, {"0": ["query"]}),
        ({"variables": {"file": None}}, {"0": ["variables.missing"]}),
        ({"variables": {"files": [None]}}, {"0": ["variables.files.1"]}),
        ({"variables": {"files": [None]}}, {"0": ["variables.files.-1"]}),
        ({"variables": {"file": None}}, {"0": ["variables" + ".x" * 20]}),
        ({"variables": {"file": None}}, {"0": [7]}),
    ],
)
def test_multipart_refusals(operations: Any, files_map: Any) -> None:
    with pytest.raises(RequestRefused) as refused:
        graphql_multipart(
            {"operations": json.dumps(operations), "map": json.dumps(files_map), "0": upload()}
        )
    assert refused.value.status == 400


def test_multipart_fields_must_be_json_text() -> None:
    for form in (
        {"map": "{}"},
        {"operations": "{not json", "map": "{}"},
        {"operations": upload(), "map": "{}"},
        {"operations": "[" * 100_000, "map": "{}"},
    ):
        with pytest.raises(RequestRefused):
            graphql_multipart(form)


# The middleware ----------------------------------------------------------------------


class Recorder:
    """The app behind the middleware: records what reached it, answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.bodies.append(await read_body(receive))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(
    checks: RequestChecks,
    path: str = "/graphql",
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    body: tuple[bytes, ...] = (b"{}",),
) -> tuple[int, bytes]:
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "query_string": b"",
    }
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await checks(scope, messages(*body), send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


JSON = {"content-type": "application/json"}


async def test_the_middleware_lets_a_clean_request_through_with_its_body() -> None:
    app = Recorder()
    assert await call(RequestChecks(app, max_body_bytes=100), headers=JSON) == (200, b"ok")
    assert app.bodies == [b"{}"]


@pytest.mark.parametrize(
    ("path", "headers", "body", "status"),
    [
        ("/graph\x00ql", JSON, (b"{}",), 404),
        ("/" + "a" * 1100, JSON, (b"{}",), 404),
        ("/graphql", {**JSON, "content-length": "12x"}, (b"{}",), 400),
        ("/graphql", {**JSON, "content-length": "101"}, (b"{}",), 413),
        ("/graphql", JSON, (b"{" + b" " * 60, b" " * 60 + b"}"), 413),
        ("/graphql", JSON, (b"42",), 400),
        ("/graphql", {"content-type": "multipart/form-data"}, (b"",), 400),
        ("/graphql", {"content-type": "text/plain"}, (b"x" * 60, b"x" * 60), 413),
    ],
)
async def test_the_middleware_refuses_before_the_app(
    path: str, headers: dict[str, str], body: tuple[bytes, ...], status: int
) -> None:
    app = Recorder()
    got, _answer = await call(
        RequestChecks(app, max_body_bytes=100), path, headers=headers, body=body
    )
    assert got == status
    # Refused before the app ran, or (a streamed body) cut while the app was reading it:
    # either way the app never had the body.
    assert app.bodies == []


async def test_larger_bodies_are_allowed_on_their_own_paths_only() -> None:
    app = Recorder()
    checks = RequestChecks(app, max_body_bytes=10, larger_bodies={"/imports": 1000})
    big = {"content-type": "application/zip", "content-length": "500"}
    assert (await call(checks, "/imports", headers=big, body=(b"z" * 500,)))[0] == 200
    assert (await call(checks, "/graphql", headers=big, body=(b"z" * 500,)))[0] == 413
    assert app.bodies == [b"z" * 500]
