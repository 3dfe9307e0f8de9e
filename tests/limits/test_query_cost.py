"""The cost limit per operation: lists weighted by their bound, aliases and fragments
counted each time, the refusal naming the cost and the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from graphql import parse

from api.settings import Settings
from schema import build_schema
from schema.cost import DEFAULT_LIST_SIZE, POOL_LIST_SIZE, operation_cost
from tests.support.app import Api, running_api

MAX_COST = 1000
# Each generation of a page: its edge, its node, up to 8 references and up to 4 images;
# the connection object itself costs 1 more.
PER_GENERATION = 1 + 1 + 8 + 4
PARTS = (
    "fragment Parts on Generation { references { id } images { url } } "
    "fragment Conn on GenerationConnection { edges { node { ...Parts } } }"
)
PAGE = "fragment Page on Query { generations(first: $n) { ...Conn } } " + PARTS
EMPTY = {"edges": []}


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(Settings(data_dir=tmp_path, max_query_cost=MAX_COST), "sqlite") as a:
        yield a


async def _post(api: Api, query: str, variables: dict[str, object]) -> tuple[int, dict]:
    response = await api.client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={**api.headers("cost-owner"), "Accept": "application/graphql-response+json"},
    )
    return response.status_code, response.json()


async def test_aliased_fragments_over_the_limit_are_refused_with_cost_and_limit(
    api: Api,
) -> None:
    query = (
        "query($n: Int!) { a: generations(first: $n) { ...Conn } b: generations(first: $n) { ...Conn } ...Page }"
        + PAGE
    )
    expected = 3 * (1 + 50 * PER_GENERATION)  # 2103
    status, body = await _post(api, query, {"n": 50})
    assert status == 400 and "data" not in body
    (error,) = body["errors"]
    error["extensions"].pop("requestId")  # every answer's own
    assert error["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": expected,
        "maxCost": MAX_COST,
    }
    assert f"costs {expected}" in error["message"] and f"limit of {MAX_COST}" in error["message"]

    # The same document asking for fewer items runs.
    status, body = await _post(api, query, {"n": 5})
    assert status == 200 and "errors" not in body, body
    assert body["data"] == {"a": EMPTY, "b": EMPTY, "generations": EMPTY}


async def test_a_literal_page_size_and_the_resolvers_cap_bound_the_list(api: Api) -> None:
    # first: 1000 is refused by the resolver anyway; it is priced at its cap (100).
    status, body = await _post(api, "{ generations(first: 1000) { ...Conn } }" + PARTS, {})
    assert status == 400
    assert body["errors"][0]["extensions"]["cost"] == 1 + 100 * PER_GENERATION
    status, body = await _post(api, "{ generations(first: 70) { ...Conn } }" + PARTS, {})
    assert status == 200 and body["data"] == {"generations": EMPTY}, body


def test_costs_of_known_shapes() -> None:
    schema = build_schema()._schema

    def cost(
        query: str, variables: dict[str, object] | None = None, name: str | None = None
    ) -> int:
        return operation_cost(schema, parse(query), name, variables)

    assert cost("{ profile { credits } }") == 1
    assert cost("{ meImages { id tags usage { aiReference } } }") == POOL_LIST_SIZE * 2
    # A connection's edges are as many as its page: the argument's default (20) when the
    # request gives none; the variable's default too. Each edge and node costs 1.
    ids = "... on GenerationConnection { edges { node { id } } }"
    assert cost(f"{{ generations {{ {ids} }} }}") == 1 + 20 * 2
    assert cost(f"query($n: Int = 7) {{ generations(first: $n) {{ {ids} }} }}") == 1 + 7 * 2
    assert cost(f"query($n: Int) {{ generations(first: $n) {{ {ids} }} }}", {"n": 3}) == 7
    # An image's uses page the same way, inside the pool list.
    uses = "{ meImages { uses(first: 5) { edges { node { generationId } } } } }"
    assert cost(uses) == POOL_LIST_SIZE * (1 + 1 + 5 * 2)
    # Only the chosen operation counts; introspection costs nothing here.
    two = "query A { profile { credits } } query B { meImages { id } }"
    assert cost(two, name="A") == 1 and cost(two, name="B") == POOL_LIST_SIZE
    assert cost("{ __schema { types { name fields { name } } } }") == 0
    # A list without a declared bound counts as the default size.
    assert cost("{ generationModels { id } }") == DEFAULT_LIST_SIZE


def test_fragments_spreading_fragments_twice_are_priced_without_blowing_up() -> None:
    # 40 levels of "spread the next fragment twice": 2**40 copies of one field, priced
    # in linear time (each fragment once) and far over any limit.
    levels = 40
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ profile {{ credits }} }}")
    query = "{ ...F0 } " + " ".join(fragments)
    assert operation_cost(build_schema()._schema, parse(query), None) == 2**levels
