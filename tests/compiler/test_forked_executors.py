"""Compiled reads build graphql-core's executor once per document and operation and fork
it for each request: a fork is what `build` gives for that request (context, variables),
and no two requests share anything of an execution's own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry

from api.compiler.graphql_core import forkable, forked
from api.compiler.operations import CompiledOperations
from api.documents import QueryDocuments
from schema.events.shared import SharedEventExecution
from schema.strawberry_compat import graphql_schema, optimized_is_awaitable


@strawberry.type
class Query:
    @strawberry.field
    async def whose(self, info: strawberry.Info, word: str = "-") -> str:
        gate: asyncio.Event = info.context["gate"]
        await gate.wait()
        return f"{info.context['name']}:{word}"


SCHEMA = strawberry.Schema(query=Query, execution_context_class=SharedEventExecution)


def _reads() -> CompiledOperations:
    return CompiledOperations(
        SCHEMA, QueryDocuments(graphql_schema(SCHEMA), max_tokens=2000, clock_dependent=()), []
    )


def test_the_servers_executor_is_forked_as_it_is_built() -> None:
    reads = _reads()
    document = reads.documents.parse("query($w: String!) { whose(word: $w) }")
    assert document is not None
    built = SharedEventExecution.build(
        reads.graphql_schema,
        document,
        context_value={"name": "a"},
        raw_variable_values={"w": "x"},
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        operation_extensions=None,
    )
    assert not isinstance(built, list)
    assert forkable(built)  # else every request would build its own (still correct, slower)
    fork = forked(built, {"name": "b"}, built.variable_values)
    assert type(fork) is type(built) and vars(fork).keys() == vars(built).keys()
    assert fork.context_value == {"name": "b"} and built.context_value == {"name": "a"}
    for name in ("schema", "operation", "fragments", "is_awaitable", "hide_suggestions"):
        assert getattr(fork, name) is getattr(built, name), name
    for name in (
        "collected_errors",
        "pending_incremental_futures",
        "background_futures",
        "_relevant_sub_fields",
        "_stream_usages",
        "groups",
        "tasks",
        "streams",
        "_initial_execution_plans",
        "_deferred_execution_plans",
        "async_helpers",
    ):
        ours, built_own = getattr(fork, name), getattr(built, name)
        assert ours is not built_own and type(ours) is type(built_own), name
        if isinstance(ours, set | list | dict):
            assert ours == built_own == type(ours)(), name  # fresh: empty
    assert fork.collected_errors.errors == []
    # The helpers a resolver's info carries work on the fork's own futures.
    assert fork.async_helpers.track.__self__ is fork  # type: ignore[attr-defined]


async def test_concurrent_requests_each_get_their_context_and_variables() -> None:
    reads = _reads()
    query = "query($w: String!) { whose(word: $w) }"
    gate = asyncio.Event()
    runs = [
        asyncio.create_task(reads.execute(query, {"w": f"w{i}"}, None, None, _context(i, gate)))
        for i in range(5)
    ]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*runs)
    assert [r.data if r else None for r in results] == [{"whose": f"n{i}:w{i}"} for i in range(5)]
    assert reads.answered == 5 and len(reads._prototypes) == 1
    # The executor kept holds no request's context or variables.
    prototype = reads._prototypes.peek((query, None))
    assert prototype.context_value is None and prototype.variable_values.coerced == {}


@pytest.mark.parametrize("variables", [{}, {"w": 5}, {"w": None}, {"w": "x", "extra": 1}])
async def test_variables_that_do_not_coerce_pass_on_after_a_fork(
    variables: dict[str, Any],
) -> None:
    reads = _reads()
    query = "query($w: String!) { whose(word: $w) }"
    gate = asyncio.Event()
    gate.set()
    assert await reads.execute(query, {"w": "ok"}, None, None, _context(0, gate)) is not None
    expected = await SCHEMA.execute(
        query, variable_values=variables, context_value=_context(1, gate)
    )
    compiled = await reads.execute(query, variables, None, None, _context(1, gate))
    if expected.errors:
        assert compiled is None  # graphql-core answers, in its own words
    else:
        assert compiled is not None and compiled.data == {"whose": "n1:x"}


def _context(i: int, gate: asyncio.Event) -> dict[str, Any]:
    return {"name": f"n{i}", "gate": gate}
