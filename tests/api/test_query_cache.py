"""The per-owner query cache answers repeats from memory and never serves stale data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import text

from api.documents import QueryDocuments
from api.query_cache import _ANSWER_BYTES, CachedResponse, QueryCache, _Key
from resolvers.cache_budget import ENTRY_OVERHEAD
from resolvers.pool.owners import data_version
from resolvers.stores import Caller, ReadCaches
from storage.db import Database
from storage.repositories import owners
from storage.repositories.owners import OwnerRepository
from testbed.images import jpeg
from tests.support.app import Api

LIST = {
    "query": "{ meImages { id label tags kind primaryFor usage { aiReference } } referenceImages { id } profile { aiUsesReferenceImages avatar { id } } }"
}


async def fetch(
    api: Api, owner: str, etag: str | None = None
) -> tuple[int, dict[str, Any] | None, str]:
    headers = api.headers(owner)
    if etag:
        headers["If-None-Match"] = etag
    response = await api.client.post("/graphql", json=LIST, headers=headers)
    body = response.json() if response.status_code == 200 else None
    return response.status_code, body, response.headers.get("etag", "")


async def test_repeat_reads_hit_and_every_write_is_seen(api: Api, owner: str) -> None:
    cache = api.app.state.query_cache
    image = await api.upload(jpeg(61), user=owner, input={"label": "one"})
    status, first, etag = await fetch(api, owner)
    assert status == 200 and etag
    hits = cache.hits
    status, again, etag_again = await fetch(api, owner)
    assert (status, again, etag_again) == (200, first, etag)
    assert cache.hits == hits + 1
    assert (await fetch(api, owner, etag))[0] == 304

    writes = [
        (
            'mutation($id: ID!) { updateMeImage(id: $id, input: {label: "two"}) { __typename } }',
            lambda b: b["data"]["meImages"][0]["label"] == "two",
        ),
        (
            "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
            lambda b: len(b["data"]["referenceImages"]) == 1,
        ),
        (
            "mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }",
            lambda b: b["data"]["referenceImages"] == [],
        ),
        (
            "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename } }",
            lambda b: b["data"]["profile"]["avatar"] == {"id": image["id"]},
        ),
        (
            "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }",
            lambda b: b["data"]["meImages"] == [],
        ),
    ]
    for mutation, seen in writes:
        await api.gql(mutation, {"id": image["id"]} if "$id" in mutation else None, user=owner)
        status, body, new_etag = await fetch(api, owner, etag)
        assert status == 200, mutation  # the old ETag no longer matches
        assert body is not None and seen(body), (mutation, body)
        assert new_etag != etag
        etag = new_etag


async def test_owners_never_share_answers(api: Api, owner: str, other_owner: str) -> None:
    await api.upload(jpeg(62), user=owner, input={"label": "mine"})
    _, mine, etag = await fetch(api, owner)
    status, theirs, their_etag = await fetch(api, other_owner, etag)
    assert status == 200 and their_etag != etag
    assert theirs is not None and theirs["data"]["meImages"] == []
    assert mine is not None and mine["data"]["meImages"][0]["label"] == "mine"
    # Another space of the same owner is another pool.
    response = await api.client.post(
        "/graphql", json=LIST, headers={**api.headers(owner, "club"), "If-None-Match": etag}
    )
    assert response.status_code == 200 and response.json()["data"]["meImages"] == []


async def test_writes_by_another_process_are_seen(api: Api, owner: str) -> None:
    image = await api.upload(jpeg(63), user=owner, input={"label": "before"})
    _, body, etag = await fetch(api, owner)
    assert body is not None and body["data"]["meImages"][0]["usage"]["aiReference"] is False
    # A second engine on the same database stands in for another instance or a CLI.
    other = Database(api.app.state.server.stores.db.url)
    try:
        async with other.transaction() as session:
            await OwnerRepository(session).lock(owner)
            await session.execute(
                text("UPDATE me_image SET ai_reference = :on WHERE id = :id"),
                {"on": True, "id": image["id"]},
            )
    finally:
        await other.dispose()
    status, body, _ = await fetch(api, owner, etag)
    assert status == 200
    assert body is not None and body["data"]["meImages"][0]["usage"]["aiReference"] is True


class HeldVersionReads:
    """The data version reads of `api`'s stores, counted; the first is held, once it has
    read, until `release` is set. Callers of the shared reads are counted as they come."""

    def __init__(self, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
        # On SQLite a remembered version would spare the reads until the next commit.
        api.stores.caches.owner_versions.clear()
        self.reads = 0
        self.first_read = asyncio.Event()
        self.release = asyncio.Event()
        self._callers = 0
        self._came: dict[int, asyncio.Event] = {}
        real, shared = owners.version_and_lapse, api.stores.caches.version_reads
        real_read = shared.read

        async def held(db: Database, owner_id: str) -> Any:
            self.reads += 1
            answer = await real(db, owner_id)
            if self.reads == 1:
                self.first_read.set()
                await self.release.wait()
            return answer

        async def counted(key: str, fetch: Any) -> Any:
            self._callers += 1
            # The test resumes once this caller waits, so after it has joined a read.
            self._came.setdefault(self._callers, asyncio.Event()).set()
            return await real_read(key, fetch)

        monkeypatch.setattr(owners, "version_and_lapse", held)
        monkeypatch.setattr(shared, "read", counted)

    async def first(self, caller: asyncio.Task[Any]) -> None:
        """Until `caller` has read the version and is held."""
        held = asyncio.create_task(self.first_read.wait())
        await asyncio.wait([caller, held], return_when=asyncio.FIRST_COMPLETED)
        held.cancel()
        assert self.first_read.is_set(), "no data version was read"

    async def callers(self, count: int) -> None:
        """Until `count` callers in all have come to the shared reads, and wait."""
        await self._came.setdefault(count, asyncio.Event()).wait()


async def first_read_held(
    api: Api, owner: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[HeldVersionReads, int, asyncio.Task[int]]:
    """The owner's version (they have one image) and a first request whose version read
    has read and is held."""
    await api.upload(jpeg(66), user=owner)
    version = await data_version(api.stores, Caller(owner))
    reads = HeldVersionReads(api, monkeypatch)
    first = asyncio.create_task(data_version(api.stores, Caller(owner)))
    await reads.first(first)
    return reads, version, first


async def test_a_request_after_a_write_never_shares_a_version_read_begun_before_it(
    api: Api, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads, before, first = await first_read_held(api, owner, monkeypatch)
    # Another instance writes, and then a request arrives: the read under way is older
    # than the write, so the request waits for the next one.
    other = Database(api.stores.db.url)
    try:
        async with other.transaction() as session:
            await OwnerRepository(session).lock(owner)  # the version goes up
    finally:
        await other.dispose()
    second = asyncio.create_task(data_version(api.stores, Caller(owner)))
    await reads.callers(2)
    reads.release.set()
    assert await first == before
    assert await second == before + 1
    assert reads.reads == 2


async def test_requests_arriving_during_a_version_read_share_the_next_one(
    api: Api, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads, version, first = await first_read_held(api, owner, monkeypatch)
    burst = [asyncio.create_task(data_version(api.stores, Caller(owner))) for _ in range(5)]
    await reads.callers(6)
    reads.release.set()
    assert await asyncio.gather(first, *burst) == [version] * 6
    # Six callers, two reads: the first's, and one that began after the other five came.
    assert reads.reads == 2
    assert len(api.stores.caches.version_reads) == 0
    # A later request reads again (on SQLite: once something was committed).
    api.stores.caches.owner_versions.clear()
    assert await data_version(api.stores, Caller(owner)) == version
    assert reads.reads == 3


async def test_mutations_and_errors_are_never_cached(api: Api, owner: str) -> None:
    cache = api.app.state.query_cache
    before = set(cache._entries)
    mutation = {
        "query": "mutation { setAiUsesReferenceImages(enabled: true) { aiUsesReferenceImages } }"
    }
    for _ in range(2):
        response = await api.client.post("/graphql", json=mutation, headers=api.headers(owner))
        assert response.status_code == 200 and "etag" not in response.headers
    bad = {"query": "{ meImages { nope } }"}
    for _ in range(2):
        response = await api.client.post("/graphql", json=bad, headers=api.headers(owner))
        assert "errors" in response.json() and "etag" not in response.headers
    assert set(cache._entries) == before


async def test_pool_snapshot_follows_every_writer(api: Api, owner: str) -> None:
    from resolvers.pool import me_images
    from resolvers.stores import Caller

    stores = api.app.state.server.stores
    caller = Caller(owner)
    image = await api.upload(jpeg(64), user=owner, input={"label": "snap"})
    first = await me_images.pool_snapshot(stores, caller)
    assert await me_images.pool_snapshot(stores, caller) is first  # served from memory
    other = Database(stores.db.url)
    try:
        async with other.transaction() as session:
            await OwnerRepository(session).lock(owner)
            await session.execute(
                text("UPDATE me_image SET kind = 'hands' WHERE id = :id"), {"id": image["id"]}
            )
    finally:
        await other.dispose()
    listed = await me_images.list_images(stores, caller)
    assert [(i.id, i.kind.value) for i in listed] == [(image["id"], "hands")]
    assert await me_images.pool_snapshot(stores, caller) is not first


async def test_clock_dependent_fields_are_never_cached(api: Api, owner: str) -> None:
    for query in (
        "{ profile { credits } }",
        "{ generations { ... on GenerationConnection { edges { node { id status } } } } }",
        '{ meImages { id } g: generation(id: "x") { id } }',
        # Aliases and fragments do not hide them.
        "{ meImages { id } p: profile { c: credits } }",
        "{ profile { ...Balance } } fragment Balance on Profile { credits }",
        "{ ... on Query { recent: generations(first: 1) { __typename } } }",
    ):
        for _ in range(2):
            response = await api.client.post(
                "/graphql", json={"query": query}, headers=api.headers(owner)
            )
            assert response.status_code == 200 and "etag" not in response.headers, query
            assert "errors" not in response.json(), (query, response.json())


async def test_a_field_named_like_a_clock_dependent_one_is_cached(api: Api, owner: str) -> None:
    # Only the schema coordinates the schema declares count, not field names.
    prices = {"query": "{ generationModels { prices { credits } } }"}
    response = await api.client.post("/graphql", json=prices, headers=api.headers(owner))
    assert response.status_code == 200 and response.headers.get("etag"), response.text


def test_clock_dependent_fields_must_exist_in_the_schema(api: Api) -> None:
    schema = api.app.state.query_cache.documents.schema
    with pytest.raises(ValueError, match=r"Profile\.balance"):
        QueryDocuments(schema, max_tokens=100, clock_dependent={"Profile.balance"})


def test_documents_are_parsed_with_the_schema_token_limit(api: Api) -> None:
    cache = api.app.state.query_cache
    documents = cache.documents
    assert documents is cache.app.documents  # the view asks the same documents
    assert documents.max_tokens == api.settings.max_tokens
    # `{ meImages { id } }` is 6 tokens (braces and names); one alias more is 8.
    small = QueryDocuments(documents.schema, max_tokens=6, clock_dependent=())
    assert small.parse("{ meImages { id } }") is not None
    assert small.parse("{ meImages { i: id } }") is None
    assert small.reads_clock("{ meImages { i: id } }")  # unparsable: never cached


async def test_a_request_decodes_its_token_once(
    api: Api, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    authenticator = api.app.state.server.authenticator
    decode = authenticator._decode
    decodes = 0

    async def counting_decode(token: str) -> Any:
        nonlocal decodes
        decodes += 1
        return await decode(token)

    async def decodes_for(send: Callable[[], Awaitable[httpx.Response]]) -> int:
        nonlocal decodes
        decodes = 0
        # Verified tokens are remembered across requests; this counts within one request.
        authenticator._verified.clear()
        response = await send()
        assert response.status_code == 200, response.text
        return decodes

    monkeypatch.setattr(authenticator, "_decode", counting_decode)
    headers = api.headers(owner)
    cache = api.app.state.query_cache
    misses, hits = cache.misses, cache.hits

    def post(query: str) -> Callable[[], Awaitable[httpx.Response]]:
        return lambda: api.client.post("/graphql", json={"query": query}, headers=headers)

    assert await decodes_for(post(LIST["query"])) == 1  # a miss: cache and view share it
    assert cache.misses == misses + 1
    assert await decodes_for(post(LIST["query"])) == 1  # a hit
    assert cache.hits == hits + 1
    assert await decodes_for(post("{ profile { credits } }")) == 1  # never cached
    mutation = "mutation { setAiUsesReferenceImages(enabled: true) { aiUsesReferenceImages } }"
    assert await decodes_for(post(mutation)) == 1
    preflighted = {**headers, "GraphQL-Require-Preflight": "1"}
    query = {"query": "{ meImages { id } }"}
    assert (
        await decodes_for(lambda: api.client.get("/graphql", params=query, headers=preflighted))
        == 1
    )
    # A multipart upload is authenticated before its body is read, and only then.
    decodes = 0
    authenticator._verified.clear()
    await api.upload(jpeg(65), user=owner)
    assert decodes == 1
    # The upload route of the source app too.
    decodes = 0
    authenticator._verified.clear()
    response = await api.client.post(
        "/api/v1/profile/me-images/upload",
        files={"file": ("photo.jpg", jpeg(66), "image/jpeg")},
        headers=headers,
    )
    assert response.status_code == 201 and decodes == 1


def test_the_cache_keeps_to_its_byte_budget_as_well_as_its_entry_count() -> None:
    # Only the bookkeeping is exercised: nothing here is called as an app.
    stores = SimpleNamespace(caches=ReadCaches())
    each = len(b"x" * 300) + len(b"application/json") + _ANSWER_BYTES + ENTRY_OVERHEAD
    cache = QueryCache(
        cast(Any, None),
        documents=cast(Any, None),
        stores=cast(Any, stores),
        authenticator=cast(Any, None),
        urls=cast(Any, None),
        build_id="b",
        max_entries=100,
        max_bytes=3 * each,
    )
    caller, state = ("owner", "personal"), (1, 0)
    for n in range(50):
        cache._store(_Key(f"k{n}", caller, state), CachedResponse(b"x" * 300, b"application/json"))
    # Replaced in place.
    cache._store(_Key("k49", caller, state), CachedResponse(b"y" * 100, b"application/json"))
    assert list(cache._entries) == ["k47", "k48", "k49"]
    assert cache._entries.nbytes == 3 * each - 200
    assert cache._entries.evictions == 47
