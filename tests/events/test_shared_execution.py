"""A subscription event is executed once per document, variables and owner, however many
subscribers take it; each subscriber still gets every event once, in order, its own
owner's only."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from graphql import OperationType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.stores import Caller
from schema import build_schema
from schema.context import RequestContext
from schema.events.shared import SharedEventExecution
from schema.events.types import MeImageEvent
from testbed.images import jpeg
from tests.support.app import Api

FULL = """subscription($after: String) { meImageEvents(after: $after) {
  __typename ... on MeImageEvent { type imageId cursor enabled slot
    image { id kind label primaryFor usage { aiReference } thumbnailUrl } }
  ... on Error { code } } }"""
SMALL = """subscription Small($after: String) { meImageEvents(after: $after) {
  ... on MeImageEvent { type imageId cursor } } }"""
TOGGLE = "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on) { __typename } }"
SET_PRIMARY = "mutation($id: ID!) { setPrimary(id: $id, slot: AVATAR) { __typename } }"


class Executions:
    """Executions of subscription events, by (owner, document)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> Executions:
    seen = Executions()
    original = StrawberryGraphQLCoreExecutionContext.execute_operation

    def counting(self: Any, serially: bool | None = None) -> Any:
        if self.operation.operation is OperationType.SUBSCRIPTION and isinstance(
            self.root_value, MeImageEvent
        ):
            owner = self.context_value.caller.owner_id
            seen.counts[(owner, self.operation.loc.source.body)] += 1
        return original(self, serially)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_operation", counting)
    return seen


async def collect(
    stream: AsyncIterator[Any], into: list[dict[str, Any]], arrived: asyncio.Condition
) -> None:
    async for result in stream:
        assert not result.errors, result.errors
        async with arrived:
            into.append(result.data["meImageEvents"])
            arrived.notify_all()


async def test_one_execution_per_event_document_and_owner(
    api: Api, owner: str, other_owner: str, executions: Executions
) -> None:
    schema = build_schema()
    urls = api.app.state.server.urls
    mine = [str((await api.upload(jpeg(700 + n), user=owner))["id"]) for n in range(2)]
    theirs = str((await api.upload(jpeg(710), user=other_owner))["id"])
    cursors = {
        who: (await api.gql("{ meImageEventCursor }", user=who))["meImageEventCursor"]
        for who in (owner, other_owner)
    }
    # Owner: five subscribers of FULL and three of SMALL, each with its own context (as
    # each connection has); the other owner: two of FULL.
    plan = [(owner, FULL)] * 5 + [(owner, SMALL)] * 3 + [(other_owner, FULL)] * 2
    arrived = asyncio.Condition()
    received: list[list[dict[str, Any]]] = [[] for _ in plan]
    tasks = []
    for (who, document), into in zip(plan, received, strict=True):
        context = RequestContext(stores=api.stores, urls=urls, caller=Caller(who))
        stream = await schema.subscribe(
            document, variable_values={"after": cursors[who]}, context_value=context
        )
        assert not isinstance(stream, type(None))
        tasks.append(asyncio.create_task(collect(stream, into, arrived)))  # type: ignore[arg-type]
    try:
        changes = [
            (owner, TOGGLE, {"id": mine[0], "on": True}),
            (other_owner, TOGGLE, {"id": theirs, "on": True}),
            (owner, SET_PRIMARY, {"id": mine[1]}),
            (owner, SET_PRIMARY, {"id": mine[0]}),  # a swap: two events
            (other_owner, TOGGLE, {"id": theirs, "on": False}),
            (owner, TOGGLE, {"id": mine[0], "on": False}),
        ]
        for who, mutation, variables in changes:
            await api.gql(mutation, variables, user=who)
        expected = {owner: 5, other_owner: 2}
        async with asyncio.timeout(60), arrived:
            await arrived.wait_for(
                lambda: all(
                    len(into) >= expected[who]
                    for (who, _), into in zip(plan, received, strict=True)
                )
            )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    by_owner: dict[str, list[list[dict[str, Any]]]] = {owner: [], other_owner: []}
    for (who, _), into in zip(plan, received, strict=True):
        by_owner[who].append(into)
    for who, ids in ((owner, set(mine)), (other_owner, {theirs})):
        streams = by_owner[who]
        reference = [event["cursor"] for event in streams[0]]
        assert len(reference) == expected[who] and len(set(reference)) == len(reference)
        for events in streams:
            # Every event once, in the log's order, and only this owner's images.
            assert [e["cursor"] for e in events] == reference
            assert {e["imageId"] for e in events} <= ids
    full = [r for (who, doc), r in zip(plan, received, strict=True) if who == owner and doc == FULL]
    assert all(events == full[0] for events in full)
    toggled, primary = "AI_REFERENCE_TOGGLED", "PRIMARY_CHANGED"
    assert [e["type"] for e in full[0]] == [toggled, primary, primary, primary, toggled]
    # Each event ran once per distinct document of its owner, not once per subscriber.
    assert executions.counts == {
        (owner, FULL): 5,
        (owner, SMALL): 5,
        (other_owner, FULL): 2,
    }


async def test_a_subscription_keeps_nothing_of_the_events_it_has_had(
    api: Api, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each event runs on its own copy of the subscription's executor; whatever that copy
    memoises goes with it, so a subscription open for a million events is as small as
    one open for one (graphql-core's copy shared its subfield memo: an entry per event)."""
    bases: list[Any] = []
    original = SharedEventExecution.build_per_event_executor

    def recording(self: Any, payload: Any) -> Any:
        bases.append(self)
        return original(self, payload)

    monkeypatch.setattr(SharedEventExecution, "build_per_event_executor", recording)
    image = str((await api.upload(jpeg(720), user=owner))["id"])
    cursor = (await api.gql("{ meImageEventCursor }", user=owner))["meImageEventCursor"]
    context = RequestContext(
        stores=api.stores, urls=api.app.state.server.urls, caller=Caller(owner)
    )
    stream = await build_schema().subscribe(
        FULL, variable_values={"after": cursor}, context_value=context
    )
    received: list[dict[str, Any]] = []
    arrived = asyncio.Condition()
    task = asyncio.create_task(collect(stream, received, arrived))  # type: ignore[arg-type]
    events = 30
    try:
        for n in range(events):
            await api.gql(TOGGLE, {"id": image, "on": n % 2 == 0}, user=owner)
        async with asyncio.timeout(60), arrived:
            await arrived.wait_for(lambda: len(received) >= events)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [event["type"] for event in received] == ["AI_REFERENCE_TOGGLED"] * events
    assert len(bases) == events and all(base is bases[0] for base in bases)
    assert len(bases[0]._relevant_sub_fields) == 0
