"""The owner's profile: the AI kill switch and the derived avatar."""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.pool.me_images import Image, Slot, pool_snapshot
from resolvers.stores import Caller, Stores
from storage.eventlog.payload import EventPayload, EventType


@dataclass(frozen=True)
class Profile:
    owner_id: str
    space_id: str
    ai_uses_reference_images: bool


async def get_profile(stores: Stores, caller: Caller) -> Profile:
    async with stores.reading() as read:
        owner = await read.owners.get(caller.owner_id)
    enabled = True if owner is None else owner.ai_uses_reference_images
    return Profile(caller.owner_id, caller.space_id, enabled)


async def set_ai_uses_reference_images(stores: Stores, caller: Caller, enabled: bool) -> Profile:
    """The kill switch: turns every reference off at once without touching per-image flags."""
    async with stores.transaction() as tx:
        owner = await tx.owners.locked(caller.owner_id)
        changed = owner.ai_uses_reference_images != enabled
        if changed:
            await tx.owners.set_ai_uses_reference_images(owner, enabled)
            # The switch is the owner's, across spaces: every space's readers (open tabs,
            # pickers, MCP sessions) hear of it in their own feed, in commit order.
            spaces = await tx.events.spaces_of(caller.owner_id) | {caller.space_id}
            for space_id in sorted(spaces):
                await tx.events.append(
                    caller.owner_id,
                    space_id,
                    EventType.AI_SWITCH_CHANGED,
                    "",
                    EventPayload(enabled=enabled),
                    image=None,
                )
    if changed:
        stores.notifier.notify(caller.owner_id)
    return Profile(caller.owner_id, caller.space_id, enabled)


async def avatar(stores: Stores, caller: Caller) -> Image | None:
    """Derived, never stored: the face-ref holder, else the avatar holder, else none."""
    holders = {i.primary_for: i for i in (await pool_snapshot(stores, caller)).images}
    return holders.get(Slot.FACE_REF) or holders.get(Slot.AVATAR)
