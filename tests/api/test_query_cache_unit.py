"""`api.query_cache` below the app: the cache wraps a stand-in view that counts its calls
and numbers its answers, so what the cache replays, stores, refuses and forgets is seen
directly. The owner's data version, the tokens and the documents are the app's own (a
real database behind them); the end-to-end behaviour is in test_query_cache.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from api.query_cache import QueryCache
from storage.repositories.owners import OwnerRepository
from tests.support.app import Api

READ = {"query": "{ meImages { id } }"}


class View:
    """Answers every request with its own number (status and body chosen per test)."""

    def __init__(self) -> None:
        self.calls = 0
        self.status = 200
        self.content_type = b"application/json"
        self.body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = self.body or json.dumps({"data": {"n": self.calls}}).encode()
        headers = [(b"content-type", self.content_type)]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def view() -> View:
    return View()


@pytest.fixture
def cache(api: Api, view: View) -> QueryCache:
    server = api.app.state.server
    documents = api.app.state.query_cache.documents
    return QueryCache(
        view,
        documents=documents,
        stores=server.stores,
        authenticator=server.authenticator,
        urls=server.urls,
        build_id="unit",
        max_body=1000,
    )


async def ask(
    cache: QueryCache,
    api: Api,
    owner: str | None,
    body: Any = READ,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    given = {**(api.headers(owner) if owner else {}), **(headers or {})}
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    query_string = b""
    if method == "GET":
        query_string = b"query=" + READ["query"].replace(" ", "+").encode()
        raw = b""
    else:
        given.setdefault("content-type", "application/json")
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": "/graphql",
        "headers": [(k.lower().encode(), v.encode()) for k, v in given.items()],
        "query_string": query_string,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "scheme": "http",
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await cache(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body_bytes = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body_bytes


async def test_a_repeat_is_replayed_and_an_etag_answers_304(
    cache: QueryCache, view: View, api: Api, owner: str
) -> None:
    first = await ask(cache, api, owner)
    again = await ask(cache, api, owner)
    assert view.calls == 1 and (cache.misses, cache.hits) == (1, 1)
    assert again == first and first[0] == 200
    etag = first[1][b"etag"].decode()
    assert first[1][b"cache-control"] == b"private, no-cache"
    status, headers, body = await ask(cache, api, owner, headers={"if-none-match": etag})
    assert (status, body, view.calls) == (304, b"", 1)
    assert headers[b"etag"].decode() == etag


async def test_a_write_to_the_owner_changes_the_key(
    cache: QueryCache, view: View, api: Api, owner: str
) -> None:
    first = await ask(cache, api, owner)
    # What every write does in its transaction: lock the owner, bumping its data version.
    async with api.stores.db.transaction() as session:
        await OwnerRepository(session).lock(owner)
    after = await ask(cache, api, owner)
    assert view.calls == 2 and after[2] != first[2]
    assert after[1][b"etag"] != first[1][b"etag"]


async def test_owners_and_spaces_have_their_own_answers(
    cache: QueryCache, view: View, api: Api, owner: str, other_owner: str
) -> None:
    mine = await ask(cache, api, owner)
    theirs = await ask(cache, api, other_owner)
    club = api.token(owner, "club")
    in_club = await ask(cache, api, None, headers={"authorization": f"Bearer {club}"})
    assert view.calls == 3
    assert len({mine[2], theirs[2], in_club[2]}) == 3


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"query": "mutation { setAiUsesReferenceImages(enabled: true) { __typename } }"}, {}),
        ({"query": "{ profile { credits } }"}, {}),  # declared clock-dependent
        ({**READ, "extensions": {"x": 1}}, {}),
        ([READ], {}),  # a batch
        (b"{not json", {}),
        ({"query": 42}, {}),
        ({**READ, "variables": [1]}, {}),
        ({**READ, "operationName": 7}, {}),
        (READ, {"content-type": "text/plain"}),
    ],
)
async def test_what_the_cache_leaves_to_the_view(
    cache: QueryCache, view: View, api: Api, owner: str, body: Any, headers: dict[str, str]
) -> None:
    for _ in range(2):
        await ask(cache, api, owner, body, headers=headers)
    assert view.calls == 2 and cache.hits == 0 and not cache._entries


async def test_a_caller_without_a_valid_token_goes_to_the_view(
    cache: QueryCache, view: View, api: Api
) -> None:
    for headers in ({}, {"authorization": "Bearer forged"}):
        await ask(cache, api, None, headers=headers)
        await ask(cache, api, None, headers=headers)
    assert view.calls == 4 and not cache._entries


async def test_a_get_without_the_preflight_header_goes_to_the_view(
    cache: QueryCache, view: View, api: Api, owner: str
) -> None:
    await ask(cache, api, owner, method="GET")
    await ask(cache, api, owner, method="GET")
    assert view.calls == 2
    preflighted = {"graphql-require-preflight": "1"}
    await ask(cache, api, owner, method="GET", headers=preflighted)
    await ask(cache, api, owner, method="GET", headers=preflighted)
    assert view.calls == 3 and cache.hits == 1


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (400, b"application/json", None),
        (200, b"text/html", None),
        (200, b"application/json", b'{"data": null, "errors": [{"message": "x"}]}'),
        (200, b"application/json", b'{"data": "' + b"x" * 2000 + b'"}'),  # over max_body
    ],
)
async def test_answers_that_are_not_stored(
    cache: QueryCache,
    view: View,
    api: Api,
    owner: str,
    status: int,
    content_type: bytes,
    body: bytes | None,
) -> None:
    view.status, view.content_type, view.body = status, content_type, body
    first = await ask(cache, api, owner)
    await ask(cache, api, owner)
    assert view.calls == 2 and not cache._entries
    assert first[0] == status and b"etag" not in first[1]
    assert first[1][b"content-length"] == str(len(first[2])).encode()


async def test_answers_of_an_older_data_version_are_let_go(
    cache: QueryCache, view: View, api: Api, owner: str, other_owner: str
) -> None:
    # Versions only move on, so an answer made before a write is never asked for again:
    # the cache keeps one answer per caller and question, not one per write.
    other = {"query": "{ meImages { id kind } }"}
    await ask(cache, api, other_owner)
    for _ in range(5):
        await ask(cache, api, owner)
        await ask(cache, api, owner, other)
        async with api.stores.db.transaction() as session:
            await OwnerRepository(session).lock(owner)
    assert view.calls == 11 and len(cache._entries) == 3
    await ask(cache, api, owner)
    await ask(cache, api, owner, other)
    await ask(cache, api, other_owner)
    assert view.calls == 13 and len(cache._entries) == 3
