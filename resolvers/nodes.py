"""Objects by id alone, of whatever type (what `node(id:)` and `nodes(ids:)` answer).

Only the caller's own objects in the active space are found: an id of another owner or
space is missing like an id that never existed, and is looked up the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from resolvers.errors import InvalidInput
from resolvers.generation import history
from resolvers.pool import me_images
from resolvers.stores import Caller, Stores

MAX_IDS = 100
# Ids are UUIDs; anything longer is no id of ours and is not worth a lookup.
_MAX_ID_CHARS = 200

Found = me_images.Image | history.Generation


async def find(stores: Stores, caller: Caller, ids: Sequence[str]) -> list[Found | None]:
    """The caller's objects with these ids, in the order asked; None where there is none."""
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"ids takes at most {MAX_IDS} ids", field="ids")
    wanted = [i for i in dict.fromkeys(ids) if 0 < len(i) <= _MAX_ID_CHARS]
    snapshot = await me_images.pool_snapshot(stores, caller)
    found: dict[str, Found] = {i.id: i for i in snapshot.images if i.id in set(wanted)}
    rest = [i for i in wanted if i not in found]
    if rest:
        async with stores.reading() as read:
            rows = await read.generations.owned_many(caller.owner_id, caller.space_id, rest)
            for row in rows:
                found[row.id] = await history.to_generation(stores, read, row)
    return [found.get(i) for i in ids]
