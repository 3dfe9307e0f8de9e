"""The owner's profile: the AI kill switch and the derived avatar."""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.me_images import Image, Slot, pool_snapshot
from resolvers.owners import lock_owner
from resolvers.stores import Caller, Stores
from storage.tables import Owner, utcnow


@dataclass(frozen=True)
class Profile:
    owner_id: str
    space_id: str
    ai_uses_reference_images: bool


async def get_profile(stores: Stores, caller: Caller) -> Profile:
    async with stores.db.session() as session:
        owner = await session.get(Owner, caller.owner_id)
    enabled = True if owner is None else owner.ai_uses_reference_images
    return Profile(caller.owner_id, caller.space_id, enabled)


async def set_ai_uses_reference_images(stores: Stores, caller: Caller, enabled: bool) -> Profile:
    """The kill switch: turns every reference off at once without touching per-image flags."""
    async with stores.db.transaction() as session:
        owner = await lock_owner(session, caller.owner_id)
        if owner.ai_uses_reference_images != enabled:
            owner.ai_uses_reference_images = enabled
            owner.updated_at = utcnow()
            session.add(owner)
    return Profile(caller.owner_id, caller.space_id, enabled)


async def avatar(stores: Stores, caller: Caller) -> Image | None:
    """Derived, never stored: the face-ref holder, else the avatar holder, else none."""
    holders = {i.primary_for: i for i in (await pool_snapshot(stores, caller)).images}
    return holders.get(Slot.FACE_REF) or holders.get(Slot.AVATAR)
