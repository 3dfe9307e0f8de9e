"""`generations` as a Relay connection: newest first, `first`/`after` paging with an
opaque cursor, `pageInfo`, and every bad argument as an InvalidInputError on its field."""

from __future__ import annotations

import base64

import pytest

from resolvers.generation import history
from resolvers.stores import Caller
from tests.generation.conftest import history_page, make_history
from tests.support.app import Api
from tests.support.provider_server import ProviderServer


def node_ids(page: dict[str, object]) -> list[str]:
    assert page["__typename"] == "GenerationConnection", page
    return [edge["node"]["id"] for edge in page["edges"]]  # type: ignore[attr-defined,index]


async def test_pages_newest_first_until_has_next_page_is_false(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    made = await make_history(gen_api, owner, 5, seed=170)
    seen: list[str] = []
    after: str | None = None
    for _ in range(10):  # 5 generations, 2 a page: 3 pages; the bound only stops a bug
        page = await history_page(gen_api, owner, first=2, after=after)
        seen += node_ids(page)
        info = page["pageInfo"]
        # Past a cursor lies at least the generation it names.
        assert info["hasPreviousPage"] is (after is not None)
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == list(reversed(made))
    assert len(page["edges"]) == 1  # the last page holds what is left
    first_page = await history_page(gen_api, owner, first=2)
    assert [e["node"]["prompt"] for e in first_page["edges"]] == ["take 4", "take 3"]
    # Any edge's cursor continues right after that edge.
    middle = first_page["edges"][0]["cursor"]
    assert node_ids(await history_page(gen_api, owner, first=2, after=middle)) == [
        made[3],
        made[2],
    ]


async def test_an_exact_last_page_says_no_next_page(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    made = await make_history(gen_api, owner, 2, seed=171)
    page = await history_page(gen_api, owner, first=2)
    assert node_ids(page) == list(reversed(made))
    assert page["pageInfo"]["hasNextPage"] is False


async def test_an_empty_history_is_an_empty_connection(gen_api: Api, owner: str) -> None:
    page = await history_page(gen_api, owner)
    assert page == {
        "__typename": "GenerationConnection",
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


@pytest.mark.parametrize("first", [0, -1, history.MAX_PAGE + 1, 2**31 - 1])
async def test_first_out_of_bounds_is_a_typed_error(gen_api: Api, owner: str, first: int) -> None:
    page = await history_page(gen_api, owner, first=first)
    assert page["__typename"] == "InvalidInputError", page
    assert page["code"] == "INVALID_INPUT" and page["field"] == "first"


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        "",
        "not a cursor!",
        "%%%%",
        raw_cursor("generation:v1:"),
        raw_cursor("event:v1:5"),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        "A" * 500,
        raw_cursor("generation:v1:00000000-0000-0000-0000-000000000000"),
    ],
    ids=["empty", "garbage", "not-base64", "no-id", "other-tag", "not-utf8", "huge", "unknown-id"],
)
async def test_malformed_or_unknown_cursors_are_typed_errors(
    gen_api: Api, owner: str, after: str
) -> None:
    page = await history_page(gen_api, owner, after=after)
    assert page["__typename"] == "InvalidInputError", page
    assert page["field"] == "after"


async def test_foreign_cursors_are_refused_like_unknown_ones(
    gen_api: Api, owner: str, other_owner: str, provider: ProviderServer
) -> None:
    made = await make_history(gen_api, owner, 2, seed=172)
    cursor = (await history_page(gen_api, owner, first=1))["pageInfo"]["endCursor"]
    unknown = raw_cursor("generation:v1:00000000-0000-0000-0000-000000000000")
    # Another owner, and the same owner in another space: the cursor means nothing there.
    for user, space in ((other_owner, None), (owner, "club")):
        foreign = await history_page(gen_api, user, after=cursor, space=space)
        assert foreign["__typename"] == "InvalidInputError", foreign
        missing = await history_page(gen_api, user, after=unknown, space=space)
        assert {k: foreign[k] for k in ("code", "field", "message")} == {
            k: missing[k] for k in ("code", "field", "message")
        }
        assert node_ids(await history_page(gen_api, user, space=space)) == []
    # A generation id is not a cursor either (the list used to page by ids).
    by_id = await history_page(gen_api, owner, after=made[1])
    assert by_id["__typename"] == "InvalidInputError" and by_id["field"] == "after"


async def test_the_domain_page_is_what_other_doors_call(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    made = await make_history(gen_api, owner, 3, seed=173)
    me = Caller(owner_id=owner)
    page = await history.list_generations(gen_api.stores, me, first=2)
    assert [g.id for g in page.items] == [made[2], made[1]] and page.has_next
    assert page.end_cursor == history.cursor_of(made[1])
    rest = await history.list_generations(gen_api.stores, me, first=2, after=page.end_cursor)
    assert [g.id for g in rest.items] == [made[0]] and not rest.has_next
