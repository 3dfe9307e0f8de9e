"""What must hold of sealed media whenever the server is dead: every object a media row
names opens under its owner's key, read through the blob store's public API
(`Stores.sealed`) exactly as a serving instance reads it; an object under a sealed name
is sealed, and no sealed object looks like a picture."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from api.settings import Settings
from api.wiring import build_server
from storage.crypto import DecryptionError, is_sealed_blob
from storage.sealed import is_sealed_name
from storage.tables import MediaObject, MediaVariant

# Starts of the formats the server stores pictures in (JPEG, PNG, WebP, GIF).
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"RIFF", b"GIF8")


async def stored_objects(settings: Settings) -> list[tuple[str, str, str]]:
    """(owner id, what, name) of every object a media row names."""
    server = build_server(settings)
    try:
        async with server.stores.db.session() as session:
            objects = (await session.execute(select(MediaObject))).scalars().all()
            variants = await session.execute(
                select(
                    col(MediaObject.owner_id),
                    col(MediaVariant.spec),
                    col(MediaVariant.storage_path),
                ).join(MediaObject, col(MediaObject.id) == col(MediaVariant.media_object_id))
            )
            found = [(owner, f"variant {spec}", path) for owner, spec, path in variants.all()]
        for obj in objects:
            found += [
                (obj.owner_id, f"{what} of {obj.id}", path)
                for what, path in (
                    ("original", obj.storage_path),
                    ("thumbnail", obj.thumbnail_path),
                    ("medium", obj.medium_path),
                )
                if path is not None
            ]
        return found
    finally:
        await server.stores.db.dispose()


async def unopenable_objects(settings: Settings) -> list[str]:
    """Violations of the sealing rules in the state a server left (none when all is well).
    A missing object is not reported here (`backends.violations` does)."""
    server = build_server(settings)
    stores = server.stores
    found: list[str] = []
    try:
        for owner, what, name in await stored_objects(settings):
            stored = await stores.blobs.get(name)
            if stored is None:
                continue
            if is_sealed_name(name) and not is_sealed_blob(stored):
                found.append(f"{what} {name} is stored in the clear under a sealed name")
            if is_sealed_blob(stored) and stored.startswith(IMAGE_SIGNATURES):
                found.append(f"{what} {name} looks like a picture")
            try:
                await stores.sealed.open(owner, name, stored)
            except DecryptionError as exc:
                found.append(f"{what} {name} does not open for its owner: {exc}")
    finally:
        await stores.blobs.close()
        await stores.db.dispose()
    return found
