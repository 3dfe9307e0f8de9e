"""The plans' shortcuts give graphql-core's answer: values a shortcut takes as they are
(a `str` of a String, an `int` of a 32-bit Int, a Strawberry enum's member, an instance of
exactly an object type's class) or remembers (the text of a UTC datetime), and every
neighbour that must still take the long way (a bool or float of an Int, an Int out of
range, a `strawberry.cast` mark, a subclass, an item of another class in a list of
strings, the same instant at another offset, a naive datetime)."""

from __future__ import annotations

import asyncio
import enum
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import strawberry

from api.compiler.operations import CompiledOperations
from api.documents import QueryDocuments
from schema.strawberry_compat import graphql_schema


@strawberry.enum
class Shade(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


@strawberry.interface
class Thing:
    id: strawberry.ID


@strawberry.type
class Card(Thing):
    name: str


@strawberry.type
class Box(Thing):
    size: int


class SpecialCard(Card):
    """A subclass: Strawberry's `is_type_of` accepts it, the shortcut leaves it to it."""


class Label(str):
    pass


class Moment(datetime):
    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "a moment"


NOON = datetime(2026, 12, 7, 12, 0, 0, 250000, tzinfo=UTC)
MOMENTS: list[object] = [
    NOON,
    NOON.astimezone(timezone(timedelta(hours=1))),  # the same instant: another text
    datetime(2026, 12, 7, 12, 0, 0, 250000, tzinfo=UTC),  # equal to NOON, another object
    NOON.replace(tzinfo=None),
    Moment(2026, 12, 7, tzinfo=UTC),
    date(2026, 12, 7),
    "not a datetime",
]


@strawberry.type
class Query:
    @strawberry.field
    def number(self, which: int) -> int:
        values: list[object] = [7, -(2**31), 2**31 - 1, True, 3.0, 2**31, -(2**31) - 1, 2.5]
        return values[which]  # type: ignore[return-value]

    @strawberry.field
    def shade(self, which: int) -> Shade:
        values: list[object] = [Shade.LIGHT, Shade.DARK, "dark", "nope"]
        return values[which]  # type: ignore[return-value]

    @strawberry.field
    def shades(self) -> list[Shade | None]:
        return [Shade.DARK, None, Shade.LIGHT]

    @strawberry.field
    def words(self, which: int) -> list[str]:
        values: list[list[object]] = [["a", "b"], ["a", 5, True], ["a", Label("x")], ["a", None]]
        return values[which]  # type: ignore[return-value]

    @strawberry.field
    def name(self, which: int) -> str:
        values: list[object] = ["plain", Label("sub"), 12, None]
        return values[which]  # type: ignore[return-value]

    @strawberry.field
    def card(self, which: int) -> Card:
        if which == 0:
            return Card(id=strawberry.ID("c"), name="plain")
        if which == 1:
            return SpecialCard(id=strawberry.ID("s"), name="sub")
        if which == 2:  # marked as another type: Strawberry's check refuses it
            return strawberry.cast(Box, Card(id=strawberry.ID("x"), name="cast"))
        return strawberry.cast(Card, Card(id=strawberry.ID("k"), name="cast to itself"))

    @strawberry.field
    async def pick(
        self, info: strawberry.Info, shade: Shade = Shade.DARK, times: int = 1
    ) -> list[Card]:
        return [
            Card(id=strawberry.ID(f"{shade.value}{i}"), name=info.field_name) for i in range(times)
        ]

    @strawberry.field
    def echo(self, root: object, word: str | None = None) -> str:
        return f"{word!r} {root!r}"

    @strawberry.field
    def later(self, times: int = 2) -> list[Card]:
        """Synchronous, answering a future (as a DataLoader's `load` does)."""
        future: asyncio.Future[list[Card]] = asyncio.get_running_loop().create_future()
        future.set_result([Card(id=strawberry.ID(f"l{i}"), name="later") for i in range(times)])
        return future  # type: ignore[return-value]

    @strawberry.field
    def moment(self, which: int) -> datetime:
        return MOMENTS[which]  # type: ignore[return-value]

    @strawberry.field
    def moments(self) -> list[datetime | None]:
        return [*MOMENTS[:5], None]  # type: ignore[list-item]

    @strawberry.field
    def cards(self) -> list[Card]:
        return [Card(id=strawberry.ID(f"c{i}"), name=f"n{i}") for i in range(3)]


SCHEMA = strawberry.Schema(query=Query, types=[Card, Box])
READS = CompiledOperations(
    SCHEMA, QueryDocuments(graphql_schema(SCHEMA), max_tokens=2000, clock_dependent=()), []
)

QUERIES = [
    *(f"{{ number(which: {i}) }}" for i in range(8)),
    *(f"{{ shade(which: {i}) }}" for i in range(4)),
    "{ shades }",
    *(f"{{ words(which: {i}) }}" for i in range(4)),
    *(f"{{ name(which: {i}) }}" for i in range(4)),
    *(f"{{ card(which: {i}) {{ id name __typename }} }}" for i in range(4)),
    "{ cards { id name } }",
    *(f"{{ moment(which: {i}) }}" for i in range(len(MOMENTS))),
    "{ moments a: moment(which: 0) b: moment(which: 1) c: moment(which: 2) }",
    "{ pick { id name } }",
    "{ a: pick(shade: LIGHT, times: 2) { id } b: pick(times: 0) { id } }",
    '{ echo(word: "hi") e: echo }',
    "{ later { id name } one: later(times: 1) { id } }",
]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($s: Shade!) { pick(shade: $s, times: 2) { id name } }", {"s": "LIGHT"}),
        ("query($w: String) { echo(word: $w) }", {"w": "x"}),
        ("query($w: String) { echo(word: $w) }", {}),
    ],
)
async def test_arguments_from_variables_are_converted_each_run(
    query: str, variables: dict[str, object]
) -> None:
    expected = await SCHEMA.execute(query, variable_values=variables)
    compiled = await READS.execute(query, variables, None, None, None)
    assert compiled is not None and not expected.errors
    assert compiled.data == expected.data


@pytest.mark.parametrize("query", QUERIES)
async def test_shortcuts_answer_as_graphql_core(query: str) -> None:
    expected = await SCHEMA.execute(query)
    compiled = await READS.execute(query, None, None, None, None)
    if expected.errors:
        assert compiled is None, (query, expected.errors)
        return
    assert compiled is not None, query
    assert compiled.errors is None
    assert compiled.data == expected.data, query
    assert [type(v) for v in _leaves(compiled.data)] == [type(v) for v in _leaves(expected.data)]


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


async def test_the_text_of_a_utc_datetime_is_remembered_and_nothing_else() -> None:
    reads = CompiledOperations(
        SCHEMA, QueryDocuments(graphql_schema(SCHEMA), max_tokens=2000, clock_dependent=()), []
    )
    query = "{ a: moment(which: 0) b: moment(which: 1) c: moment(which: 2) d: moment(which: 3) e: moment(which: 4) }"
    for _ in range(2):  # made, then remembered: the same answer
        compiled = await reads.execute(query, None, None, None, None)
        assert compiled is not None
        assert compiled.data == (await SCHEMA.execute(query)).data
    assert compiled.data == {
        "a": "2026-12-07T12:00:00.250000+00:00",
        "b": "2026-12-07T13:00:00.250000+01:00",
        "c": "2026-12-07T12:00:00.250000+00:00",
        "d": "2026-12-07T12:00:00.250000",
        "e": "a moment",
    }
    remembered = reads._dates
    assert list(remembered) == [NOON]  # only the UTC datetime of exactly that class
    assert remembered.peek(NOON) == "2026-12-07T12:00:00.250000+00:00"
