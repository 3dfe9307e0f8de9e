"""Relay's object identification: the `Node` interface the refetchable types implement.

A node's id is the object's own id, as every door already shows it (GraphQL, MCP, REST,
events): a random UUID, opaque and unique across all types, so no type name or position
is encoded in it and no existing client's ids change. `node(id:)` looks an id up among
the caller's own objects in the active space only: another owner's id, another space's,
and an id that never existed all answer null, through the same lookups.
"""

from __future__ import annotations

import strawberry


@strawberry.interface(
    description="An object `node(id:)` refetches by its id (Relay's object identification)."
)
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque, unique across all types; `node(id:)` answers it for its owner only."
    )
