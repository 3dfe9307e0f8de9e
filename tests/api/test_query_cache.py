"""The per-owner query cache answers repeats from memory and never serves stale data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from resolvers.owners import lock_owner
from storage.db import Database
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
            await lock_owner(session, owner)
            await session.execute(
                text("UPDATE me_image SET ai_reference = :on WHERE id = :id"),
                {"on": True, "id": image["id"]},
            )
    finally:
        await other.dispose()
    status, body, _ = await fetch(api, owner, etag)
    assert status == 200
    assert body is not None and body["data"]["meImages"][0]["usage"]["aiReference"] is True


async def test_mutations_and_errors_are_never_cached(api: Api, owner: str) -> None:
    cache = api.app.state.query_cache
    before = dict(cache._entries)
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
    assert set(cache._entries) == set(before)


async def test_pool_snapshot_follows_every_writer(api: Api, owner: str) -> None:
    from resolvers import me_images
    from resolvers.stores import Caller

    stores = api.app.state.server.stores
    caller = Caller(owner)
    image = await api.upload(jpeg(64), user=owner, input={"label": "snap"})
    first = await me_images.pool_snapshot(stores, caller)
    assert await me_images.pool_snapshot(stores, caller) is first  # served from memory
    other = Database(stores.db.url)
    try:
        async with other.transaction() as session:
            await lock_owner(session, owner)
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
        "{ generations { id status } }",
        '{ meImages { id } g: generation(id: "x") { id } }',
    ):
        for _ in range(2):
            response = await api.client.post(
                "/graphql", json={"query": query}, headers=api.headers(owner)
            )
            assert response.status_code == 200 and "etag" not in response.headers, query
