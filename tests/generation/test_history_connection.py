"""`generationHistory`: the history as a plain Relay connection (what Relay's `@connection`
and Apollo's `relayStylePagination` page), forward and backward, with bad arguments as
GraphQL errors carrying `extensions.code` and `extensions.field`."""

from __future__ import annotations

from typing import Any

import pytest

from resolvers.generation import history
from tests.generation.conftest import make_history
from tests.support.app import Api
from tests.support.provider_server import ProviderServer

HISTORY = """
query History($first: Int, $after: String, $last: Int, $before: String) {
  generationHistory(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id prompt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def page(api: Api, owner: str, **arguments: Any) -> dict[str, Any]:
    connection: dict[str, Any] = (await api.gql(HISTORY, arguments, user=owner))[
        "generationHistory"
    ]
    return connection


async def refusal(api: Api, owner: str, **arguments: Any) -> dict[str, Any]:
    response = await api.post(HISTORY, arguments, user=owner)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None, body
    [error] = body["errors"]
    return error  # type: ignore[no-any-return]


def ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def test_pages_forward_then_back_over_the_same_items(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    made = await make_history(gen_api, owner, 5, seed=180)
    newest_first = list(reversed(made))
    # A null page size is the default, not an error.
    whole = await page(gen_api, owner, first=None)
    assert ids(whole) == newest_first
    assert whole["pageInfo"]["hasNextPage"] is False
    assert whole["pageInfo"]["hasPreviousPage"] is False

    forward: list[str] = []
    after = None
    for _ in range(5):  # 5 items, 2 a page: 3 pages; the bound only stops a bug
        got = await page(gen_api, owner, first=2, after=after)
        forward += ids(got)
        if not got["pageInfo"]["hasNextPage"]:
            break
        after = got["pageInfo"]["endCursor"]
    assert forward == newest_first

    backward: list[str] = []
    before = None
    for _ in range(5):
        got = await page(gen_api, owner, last=2, before=before)
        # Past a cursor lies at least the item it names.
        assert got["pageInfo"]["hasNextPage"] is (before is not None)
        # Each backward page is still listed newest first.
        backward = ids(got) + backward
        if not got["pageInfo"]["hasPreviousPage"]:
            break
        before = got["pageInfo"]["startCursor"]
    assert backward == newest_first

    # `last` alone is the oldest items; `before` an edge's cursor is what precedes it.
    oldest = await page(gen_api, owner, last=2)
    assert ids(oldest) == [made[1], made[0]]
    assert oldest["pageInfo"] | {"startCursor": None, "endCursor": None} == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }
    middle = whole["edges"][2]["cursor"]  # made[2]
    preceding = await page(gen_api, owner, last=5, before=middle)
    assert ids(preceding) == [made[4], made[3]]
    assert preceding["pageInfo"]["hasNextPage"] is True
    assert preceding["pageInfo"]["hasPreviousPage"] is False


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"first": 0}, "first"),
        ({"first": -1}, "first"),
        ({"first": history.MAX_PAGE + 1}, "first"),
        ({"last": 0}, "last"),
        ({"last": 2**31 - 1}, "last"),
        ({"first": 1, "last": 1}, "last"),
        ({"after": "x", "before": "y"}, "before"),
        ({"first": 2, "before": "y"}, "first"),
        ({"last": 2, "after": "x"}, "after"),
        ({"after": "not a cursor!"}, "after"),
        ({"before": "not a cursor!"}, "before"),
    ],
)
async def test_bad_arguments_are_errors_with_a_stable_code(
    gen_api: Api, owner: str, arguments: dict[str, Any], field: str
) -> None:
    error = await refusal(gen_api, owner, **arguments)
    assert error["extensions"]["code"] == "INVALID_INPUT", error
    assert error["extensions"]["field"] == field, error
    assert error["path"] == ["generationHistory"]
    assert "None" not in error["message"]


async def test_foreign_cursors_are_refused_like_unknown_ones(
    gen_api: Api, owner: str, other_owner: str, provider: ProviderServer
) -> None:
    await make_history(gen_api, owner, 1, seed=181)
    mine = (await page(gen_api, owner))["pageInfo"]["endCursor"]
    unknown = history.cursor_of("00000000-0000-0000-0000-000000000000")
    for direction in ("after", "before"):
        foreign = await refusal(gen_api, other_owner, **{direction: mine})
        missing = await refusal(gen_api, other_owner, **{direction: unknown})
        assert foreign["message"] == missing["message"]
        same = ("code", "field")
        assert {k: foreign["extensions"][k] for k in same} == {
            k: missing["extensions"][k] for k in same
        }


async def test_node_refetches_a_generation_of_its_owner_only(
    gen_api: Api, owner: str, other_owner: str, provider: ProviderServer
) -> None:
    [made] = await make_history(gen_api, owner, 1, seed=182)
    query = "query($id: ID!) { node(id: $id) { __typename id ... on Generation { prompt } } }"
    got = await gen_api.gql(query, {"id": made}, user=owner)
    assert got["node"] == {"__typename": "Generation", "id": made, "prompt": "take 0"}
    for user, space in ((other_owner, None), (owner, "club")):
        assert (await gen_api.gql(query, {"id": made}, user=user, space=space))["node"] is None
