"""Media as versions before sealing stored it: plaintext bytes under names of their SHA-256.

`regress_to_plaintext` turns an owner's sealed objects back into that layout (same rows,
bytes in the clear, old names, registrations), so the conversion can be tested on the
very state an existing installation has, reached through today's upload path.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, select
from sqlmodel import col

from resolvers.stores import Stores
from storage.tables import MediaBlob, MediaObject, MediaVariant, utcnow


def legacy_name(owner_id: str, sha256: str, suffix: str = "") -> str:
    """The name a plaintext-era server gave a rendition (`.thumb.webp`, `.medium.webp`,
    `.<transform spec>`)."""
    prefix = hashlib.sha256(owner_id.encode()).hexdigest()[:24]
    return f"o/{prefix}/{sha256[:2]}/{sha256}{suffix}"


async def regress_to_plaintext(stores: Stores, owner_id: str) -> dict[str, bytes]:
    """Store every object of the owner in plaintext under its old name; old name -> bytes."""
    planted: dict[str, bytes] = {}
    async with stores.db.session() as session:
        objects = list(
            (
                await session.execute(
                    select(MediaObject).where(col(MediaObject.owner_id) == owner_id)
                )
            ).scalars()
        )
        variants = list(
            (
                await session.execute(
                    select(MediaVariant).where(
                        col(MediaVariant.media_object_id).in_([o.id for o in objects])
                    )
                )
            ).scalars()
        )
    moves: list[tuple[object, str, str, str]] = []  # (row, column, sealed name, old name)
    for obj in objects:
        for column, suffix in (
            ("storage_path", ""),
            ("thumbnail_path", ".thumb.webp"),
            ("medium_path", ".medium.webp"),
        ):
            moves.append(
                (obj, column, getattr(obj, column), legacy_name(owner_id, obj.sha256, suffix))
            )
        for variant in (v for v in variants if v.media_object_id == obj.id):
            old = legacy_name(owner_id, obj.sha256, f".{variant.spec}")
            moves.append((variant, "storage_path", variant.storage_path, old))
    for _row, _column, sealed, old in moves:
        data = await stores.sealed.get(owner_id, sealed)
        assert data is not None, sealed
        await stores.blobs.put(old, data)
        planted[old] = data
    now = utcnow()
    async with stores.db.transaction() as session:
        for row, column, sealed, old in moves:
            setattr(row, column, old)
            session.add(await session.merge(row))
            await session.execute(delete(MediaBlob).where(col(MediaBlob.key) == sealed))
            session.add(MediaBlob(key=old, owner_id=owner_id, created_at=now, orphaned_at=None))
    for _row, _column, sealed, _old in moves:
        await stores.blobs.delete(sealed)
    return planted
