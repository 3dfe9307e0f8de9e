"""`node(id:)` and `nodes(ids:)`: Relay's refetch by id; merged into the Query root."""

from __future__ import annotations

import strawberry

from resolvers import nodes
from resolvers.generation import history
from schema.context import Info
from schema.generation.types import Generation, ReferencePool
from schema.node import Node
from schema.pool.types import MeImage


@strawberry.type
class NodeQuery:
    """Refetch any of the caller's objects by id."""

    @strawberry.field(
        description="The caller's object with this id in the active space (a MeImage or a Generation); null for any other id, another owner's included."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return (await _nodes(info, [str(id)]))[0]

    @strawberry.field(
        description=f"`node(id:)` for up to {nodes.MAX_IDS} ids at once, in the order given; null where `node` would be."
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        return await _nodes(info, [str(i) for i in ids])


async def _nodes(info: Info, ids: list[str]) -> list[Node | None]:
    stores, caller = info.context.stores, info.context.require_caller()
    found = await nodes.find(stores, caller, ids)
    pool = ReferencePool(stores, caller)
    typed: list[Node | None] = []
    for item in found:
        if isinstance(item, history.Generation):
            typed.append(Generation.of(item, pool))
        elif item is not None:
            typed.append(MeImage.of(item))
        else:
            typed.append(None)
    return typed
