"""The pool cap (`MEIMAGES_POOL_CAP`, 3 here): every door that adds an image refuses with
`PoolFullError` once the pool is full, concurrent uploads never overshoot it, deleting
frees a place, and each space has a cap of its own. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from storage.tables import MeImage
from testbed.images import jpeg
from tests.pool.conftest import CAP
from tests.support.app import Api

POOL_FULL = "__typename ... on PoolFullError { code cap message }"
CREATE = """
  mutation($input: CreateMeImageInput!) {
    createMeImage(input: $input) {
      __typename ... on MeImage { id } ... on PoolFullError { code cap }
    }
  }
"""


async def live_rows(api: Api, owner: str, space: str | None = None) -> int:
    query = (
        select(func.count())
        .select_from(MeImage)
        .where(MeImage.owner_id == owner, MeImage.deleted_at.is_(None))  # type: ignore[union-attr]
    )
    if space is not None:
        query = query.where(MeImage.space_id == space)
    async with api.stores.db.session() as session:
        return int((await session.execute(query)).scalar_one())


async def fill(api: Api, owner: str, count: int, seed: int = 0) -> list[str]:
    return [(await api.upload_image(jpeg(seed + i), user=owner))["id"] for i in range(count)]


async def test_every_door_refuses_a_full_pool_with_the_cap(capped: Api, owner: str) -> None:
    await fill(capped, owner, CAP)
    # uploadMeImage (GraphQL multipart)
    result = await capped.upload(jpeg(50), user=owner, fields=POOL_FULL)
    assert result == {
        "__typename": "PoolFullError",
        "code": "POOL_FULL",
        "cap": CAP,
        "message": result["message"],
    }
    # The REST upload route: nothing is decoded or stored for a pool that cannot take it.
    before = await capped.blob_keys()
    response = await capped.rest_upload(jpeg(51), user=owner)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "POOL_FULL"
    assert response.json()["error"]["cap"] == CAP
    assert await capped.blob_keys() == before
    assert await live_rows(capped, owner) == CAP


async def test_create_from_an_earlier_upload_is_refused_when_full(capped: Api, owner: str) -> None:
    response = await capped.rest_upload(jpeg(60), user=owner)
    assert response.status_code == 201, response.text
    media_id = response.json()["mediaId"]
    await fill(capped, owner, CAP, seed=61)
    refused = await capped.gql(CREATE, {"input": {"mediaId": media_id, "kind": "FACE"}}, user=owner)
    assert refused["createMeImage"] == {
        "__typename": "PoolFullError",
        "code": "POOL_FULL",
        "cap": CAP,
    }
    assert await live_rows(capped, owner) == CAP


async def test_deleting_frees_a_place(capped: Api, owner: str) -> None:
    ids = await fill(capped, owner, CAP, seed=70)
    assert (await capped.upload(jpeg(80), user=owner, fields=POOL_FULL))["code"] == "POOL_FULL"
    deleted = await capped.gql(
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }", {"id": ids[0]}, user=owner
    )
    assert deleted["deleteMeImage"]["__typename"] == "DeletedMeImage"
    assert (await capped.upload(jpeg(81), user=owner))["__typename"] == "MeImage"
    assert await live_rows(capped, owner) == CAP


async def test_each_space_has_a_cap_of_its_own(capped: Api, owner: str) -> None:
    await fill(capped, owner, CAP, seed=90)
    other = await capped.upload(jpeg(95), user=owner, space="space-brand")
    assert other["__typename"] == "MeImage", other
    assert await live_rows(capped, owner, "space-brand") == 1


async def test_concurrent_uploads_near_the_cap_never_overshoot_it(capped: Api, owner: str) -> None:
    await fill(capped, owner, CAP - 2, seed=100)
    # Eight uploads at once for the last two places: the check under the owner lock
    # lets exactly two through, whatever the interleaving.
    results = await asyncio.gather(
        *(
            capped.upload(jpeg(110 + i), user=owner, fields=f"{POOL_FULL} ... on MeImage {{ id }}")
            for i in range(8)
        )
    )
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["MeImage"] * 2 + ["PoolFullError"] * 6, results
    assert await live_rows(capped, owner) == CAP
    listed = await capped.gql("{ meImages { id } }", user=owner)
    assert len(listed["meImages"]) == CAP
