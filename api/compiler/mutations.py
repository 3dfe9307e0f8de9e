"""Compiled mutations: a mutation of one root field, its resolver called as graphql-core
calls it and its answer completed by a plan (`api.compiler.plan.MutationPlan`).

A mutation writes, so it never runs twice. Until its resolver is called, a mutation plan
may still decline (`Fallback`: graphql-core runs the request as usual). Once the resolver
has run, whatever the plan cannot answer itself — the resolver raised, its value is null
in a non-null place, a field below fails, a type does not match — raises `Replay` with
what the resolver gave (`Outcome`). The view then has graphql-core run the request with
every extension, as usual; only the root field's resolver is not called again: it hands
back that outcome instead (`install_replay`). The answer, errors and masking included,
is the one graphql-core gives for that outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema

# Where the context keeps the outcome to replay (`RequestContext.extra`).
REPLAYED = "replayed_mutation"
# Marks a root resolver that replays.
_REPLAYS = "__meimages_replays__"


@dataclass(frozen=True)
class Outcome:
    """What a mutation's root resolver gave: a value, or the exception it raised."""

    value: Any = None
    error: Exception | None = None

    def replayed(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class Replay(Exception):
    """The resolver has run and the plan leaves the answer to graphql-core: it must run
    the request with `outcome` in place of the resolver's call."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("the mutation's answer is made by graphql-core")
        self.outcome = outcome


def install_replay(schema: GraphQLSchema) -> None:
    """Have every root mutation field hand back a replayed outcome (`REPLAYED` in the
    context's `extra`, taken once) instead of calling its resolver; without one, it calls
    the resolver as before. Installing it twice changes nothing."""
    mutation = schema.mutation_type
    if mutation is None:
        return
    for field in mutation.fields.values():
        resolve = field.resolve
        if resolve is not None and not getattr(resolve, _REPLAYS, False):
            field.resolve = _replaying(resolve)


def replays(mutation: GraphQLObjectType, name: str) -> bool:
    """Whether the root field `name` replays an outcome (`install_replay`)."""
    field = mutation.fields.get(name)
    return field is not None and getattr(field.resolve, _REPLAYS, False)


def _replaying(resolve: Callable[..., Any]) -> Callable[..., Any]:
    def replaying(source: Any, info: Any, **arguments: Any) -> Any:
        extra = getattr(info.context, "extra", None)
        if extra.__class__ is dict and REPLAYED in extra:
            outcome: Outcome = extra.pop(REPLAYED)
            return outcome.replayed()
        return resolve(source, info, **arguments)

    setattr(replaying, _REPLAYS, True)
    replaying.__wrapped__ = resolve  # type: ignore[attr-defined]
    return replaying
