"""Relay's conventions over the pool: `node(id:)`/`nodes(ids:)` refetch the caller's own
images (anyone else's id answers like an unknown one), and `pool` pages the images as a
connection, forward and backward."""

from __future__ import annotations

import uuid
from typing import Any

from testbed.images import jpeg
from tests.support.app import Api

NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id ... on MeImage { kind mediaId } }
}
"""

NODES = """
query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }
"""

POOL = """
query Pool($first: Int, $after: String, $last: Int, $before: String, $kind: MeImageKind,
           $order: ImageOrder! = NEWEST_FIRST) {
  pool(first: $first, after: $after, last: $last, before: $before, kind: $kind, order: $order) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def add(api: Api, owner: str, count: int, seed: int, kind: str = "FACE") -> list[str]:
    """`count` new images, oldest first."""
    made = []
    for i in range(count):
        image = await api.upload_image(jpeg(seed + i), user=owner, input={"kind": kind})
        made.append(image["id"])
    return made


def ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def test_node_refetches_own_images_and_nothing_of_anyone_else(
    api: Api, owner: str, other_owner: str
) -> None:
    [mine] = await add(api, owner, 1, seed=400)
    [theirs] = await add(api, other_owner, 1, seed=401)
    got = (await api.gql(NODE, {"id": mine}, user=owner))["node"]
    listed = (await api.gql("{ meImages { id kind mediaId } }", user=owner))["meImages"]
    assert got == {"__typename": "MeImage", **next(i for i in listed if i["id"] == mine)}
    # Another owner's id, the same owner in another space, a random and a malformed id:
    # the same answer, null without an error.
    for user, space, wanted in (
        (owner, None, theirs),
        (other_owner, None, mine),
        (owner, "club", mine),
        (owner, None, str(uuid.uuid4())),
        (owner, None, "not an id"),
        (owner, None, "x" * 5000),
    ):
        response = await api.post(NODE, {"id": wanted}, user=user, space=space)
        assert response.json() == {"data": {"node": None}}, (user, space, wanted)


async def test_nodes_answer_in_the_order_asked(api: Api, owner: str, other_owner: str) -> None:
    first, second = await add(api, owner, 2, seed=410)
    [theirs] = await add(api, other_owner, 1, seed=412)
    asked = [second, theirs, first, second, str(uuid.uuid4())]
    got = (await api.gql(NODES, {"ids": asked}, user=owner))["nodes"]
    assert got == [
        {"__typename": "MeImage", "id": second},
        None,
        {"__typename": "MeImage", "id": first},
        {"__typename": "MeImage", "id": second},
        None,
    ]
    response = await api.post(NODES, {"ids": [str(uuid.uuid4())] * 101}, user=owner)
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "ids"


async def test_pool_pages_forward_and_back(api: Api, owner: str) -> None:
    made = await add(api, owner, 5, seed=420)
    [hands] = await add(api, owner, 1, seed=425, kind="HANDS")
    newest_first = list(reversed(made))

    async def page(**arguments: Any) -> dict[str, Any]:
        got: dict[str, Any] = (await api.gql(POOL, arguments, user=owner))["pool"]
        return got

    assert ids(await page()) == [hands, *newest_first]
    assert ids(await page(kind="HANDS")) == [hands]
    forward: list[str] = []
    after = None
    for _ in range(5):  # 5 faces, 2 a page: 3 pages; the bound only stops a bug
        got = await page(kind="FACE", first=2, after=after)
        assert got["pageInfo"]["hasPreviousPage"] is (after is not None)
        forward += ids(got)
        if not got["pageInfo"]["hasNextPage"]:
            break
        after = got["pageInfo"]["endCursor"]
    assert forward == newest_first
    backward: list[str] = []
    before = None
    for _ in range(5):
        got = await page(kind="FACE", last=2, before=before)
        assert got["pageInfo"]["hasNextPage"] is (before is not None)
        backward = ids(got) + backward
        if not got["pageInfo"]["hasPreviousPage"]:
            break
        before = got["pageInfo"]["startCursor"]
    assert backward == newest_first
    oldest = await page(kind="FACE", order="OLDEST_FIRST", first=2)
    assert ids(oldest) == made[:2]

    # A cursor names a place, not a row: it keeps it after its image is deleted.
    third = (await page(kind="FACE", first=3))["pageInfo"]["endCursor"]  # made[2]
    deleted = await api.gql(
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }", {"id": made[2]}, user=owner
    )
    assert deleted["deleteMeImage"]["__typename"] == "DeletedMeImage"
    assert ids(await page(kind="FACE", after=third)) == [made[1], made[0]]
    assert ids(await page(kind="FACE", before=third)) == [made[4], made[3]]


async def test_pool_refuses_bad_arguments_with_a_code(api: Api, owner: str) -> None:
    for arguments, field in (
        ({"first": 0}, "first"),
        ({"last": 101}, "last"),
        ({"first": 1, "last": 1}, "last"),
        ({"after": "nope"}, "after"),
        ({"before": "bm9wZQ"}, "before"),
    ):
        body = (await api.post(POOL, arguments, user=owner)).json()
        assert body["data"] is None, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT", error
        assert error["extensions"]["field"] == field, error
