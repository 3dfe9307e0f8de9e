"""The owner's data version: what every cached answer about an owner is keyed on."""

from __future__ import annotations

from resolvers.stores import Caller, Stores

# Remembered owner versions beyond this are dropped all at once (a bound, not an LRU:
# the next read of each simply asks the database again).
_MAX_REMEMBERED = 100_000


async def data_version(stores: Stores, caller: Caller) -> int:
    """The owner's current data version (0 for an owner who never wrote anything).

    On SQLite the answer is remembered together with the database's change stamp taken
    before reading it; while the stamp is unchanged nothing was committed by anyone, so
    the remembered version is still exact and no query is needed.
    """
    stamp = stores.db.change_stamp()
    if stamp is not None:
        remembered = stores.owner_versions.get(caller.owner_id)
        if remembered is not None and remembered[0] == stamp:
            return remembered[1]
    async with stores.reading() as read:
        version = await read.owners.data_version(caller.owner_id)
    if stamp is not None:
        if len(stores.owner_versions) > _MAX_REMEMBERED:
            stores.owner_versions.clear()
        stores.owner_versions[caller.owner_id] = (stamp, version)
    return version
