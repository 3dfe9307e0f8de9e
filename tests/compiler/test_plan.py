"""A compiled plan runs resolvers as graphql-core runs them: every sibling field is
started before any is awaited, and async siblings and list items are awaited together —
so a DataLoader batches across them under both paths, and the order in which resolvers
start and finish is the same. Observed through the order of the resolvers' own steps
(no clocks)."""

from __future__ import annotations

import asyncio
import gc
import warnings

import strawberry
from strawberry.dataloader import DataLoader

from api.compiler.operations import CompiledOperations
from api.documents import QueryDocuments
from schema.strawberry_compat import graphql_schema


@strawberry.type
class Item:
    id: int

    @strawberry.field
    async def double(self, info: strawberry.Info) -> int:
        loader: DataLoader[int, int] = info.context["loader"]
        return await loader.load(self.id)


@strawberry.type
class Query:
    @strawberry.field
    async def first(self, info: strawberry.Info) -> str:
        return await _stepped(info, "first")

    @strawberry.field
    async def second(self, info: strawberry.Info) -> str:
        return await _stepped(info, "second")

    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(id=i) for i in range(4)]

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("a resolver failed")


async def _stepped(info: strawberry.Info, name: str) -> str:
    steps: list[str] = info.context["steps"]
    steps.append(f"{name} started")
    for _ in range(3):  # give a concurrent sibling its turns
        await asyncio.sleep(0)
    steps.append(f"{name} done")
    return name


SCHEMA = strawberry.Schema(query=Query)
READS = CompiledOperations(
    SCHEMA, QueryDocuments(graphql_schema(SCHEMA), max_tokens=2000, clock_dependent=()), []
)


def _context() -> dict[str, object]:
    batches: list[list[int]] = []

    async def load(keys: list[int]) -> list[int]:
        batches.append(list(keys))
        return [2 * key for key in keys]

    return {"steps": [], "batches": batches, "loader": DataLoader(load_fn=load)}


async def _both(query: str) -> tuple[dict[str, object], dict[str, object]]:
    """The context each path's resolvers wrote to, after answering alike."""
    compiled_context, core_context = _context(), _context()
    compiled = await READS.execute(query, None, None, None, compiled_context)
    expected = await SCHEMA.execute(query, context_value=core_context)
    assert compiled is not None, "the plan stepped aside"
    assert expected.errors is None and compiled.data == expected.data
    return compiled_context, core_context


async def test_sibling_async_fields_run_concurrently_as_in_graphql_core() -> None:
    answered = READS.answered
    compiled, core = await _both("{ first second }")
    assert READS.answered == answered + 1
    assert compiled["steps"] == core["steps"]
    assert compiled["steps"][:2] == ["first started", "second started"]


async def test_list_items_share_one_dataloader_batch() -> None:
    compiled, core = await _both("{ items { id double } }")
    assert compiled["batches"] == core["batches"] == [[0, 1, 2, 3]]


async def test_a_failing_sibling_leaves_no_resolver_unawaited() -> None:
    """The async field started before the failing one is settled, not dropped: no
    'never awaited' warning, and graphql-core's answer is left to the view."""
    context = _context()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert await READS.execute("{ first broken }", None, None, None, context) is None
        # The abandoned field finishes in the background; its steps show it ran out.
        steps: list[str] = context["steps"]  # type: ignore[assignment]
        for _ in range(1000):
            if "first done" in steps:
                break
            await asyncio.sleep(0)
        assert steps == ["first started", "first done"]
        gc.collect()
