"""The owner's data version: what every cached answer about an owner is keyed on."""

from __future__ import annotations

import functools
import sys
from datetime import datetime

from resolvers.pool.consent import is_due, lapse_due
from resolvers.stores import Caller, Stores
from storage.repositories import owners

# Bytes of one remembered version besides its owner id, measured with tracemalloc: the
# 3-tuple (64), the stamp and version ints (2 x 28) and a datetime or None (48).
_VERSION_BYTES = 168


async def data_version(stores: Stores, caller: Caller) -> int:
    """The owner's current data version (0 for an owner who never wrote anything).

    On SQLite the answer is remembered together with the database's change stamp taken
    before reading it; while the stamp is unchanged nothing was committed by anyone, so
    the remembered version is still exact and no query is needed.

    Otherwise concurrent requests of one owner share the read, though never one that
    began before they arrived (`SharedReads`): a request sees every write committed
    before it arrived, on any server, as with a read of its own.

    A timed consent of the owner that has come due is lapsed first (a write that bumps
    the version): the one change of an owner's data that no request makes.
    """
    stamp = stores.db.change_stamp()
    if stamp is not None:
        remembered: tuple[int, int, datetime | None] | None = stores.caches.owner_versions.get(
            caller.owner_id
        )
        if (
            remembered is not None
            and remembered[0] == stamp
            and not is_due(remembered[2], stores.clock.now())
        ):
            return remembered[1]
    version, lapses_at = await _read(stores, caller.owner_id)
    if is_due(lapses_at, stores.clock.now()):
        await lapse_due(stores, caller.owner_id)
        stamp = stores.db.change_stamp()
        version, lapses_at = await _read(stores, caller.owner_id)
    if stamp is not None:
        stores.caches.owner_versions.put(
            caller.owner_id,
            (stamp, version, lapses_at),
            _VERSION_BYTES + sys.getsizeof(caller.owner_id),
        )
    return version


async def _read(stores: Stores, owner_id: str) -> tuple[int, datetime | None]:
    return await stores.caches.version_reads.read(
        owner_id, functools.partial(owners.version_and_lapse, stores.db, owner_id)
    )
