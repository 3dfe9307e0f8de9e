"""Encrypted fields are declared once: the columns, the migrations, the vault and the
event snapshot all follow from `MeImageEncrypted`."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from storage.db import Database
from storage.encrypted import EncryptedColumns, encrypted
from storage.migrate import upgrade
from storage.tables import ME_IMAGE_ENCRYPTED, MeImage, MeImageEncrypted, MeImageEvent, metadata
from testbed.images import jpeg
from tests.support.app import Api


def test_a_declared_field_without_its_column_fails_at_import() -> None:
    @dataclass(frozen=True)
    class WithoutColumn:
        nickname: str | None = encrypted(max_chars=10)

    with pytest.raises(TypeError, match="nickname_ct"):
        EncryptedColumns(MeImage, WithoutColumn)

    @dataclass(frozen=True)
    class Undeclared:
        label: str | None = None

    with pytest.raises(TypeError, match="encrypted"):
        EncryptedColumns(MeImage, Undeclared)


async def test_the_migrations_create_every_declared_column(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'declared.db'}")
    try:
        await upgrade(db)
        async with db.engine.connect() as conn:
            columns = await conn.run_sync(
                lambda s: {c["name"] for c in inspect(s).get_columns("me_image")}
            )

            def diff_of_me_image(sync: Any) -> list[Any]:
                diffs = compare_metadata(MigrationContext.configure(sync), metadata)
                flat = [d for g in diffs for d in (g if isinstance(g, list) else [g])]
                return [d for d in flat if "'me_image'" in repr(d)]

            assert await conn.run_sync(diff_of_me_image) == []
    finally:
        await db.dispose()
    assert {field.column for field in ME_IMAGE_ENCRYPTED} <= columns


async def test_one_call_seals_and_opens_every_field_and_the_snapshot_carries_them(
    api: Api, owner: str
) -> None:
    stores = api.app.state.server.stores
    image = await api.upload(jpeg(81), user=owner, input={"label": "desk", "tags": ["a", "b"]})
    async with stores.db.session() as session:
        row = await session.get(MeImage, image["id"])
        assert row is not None
        opened = await stores.vault.open_row(session, ME_IMAGE_ENCRYPTED, row)
        assert opened == MeImageEncrypted(label="desk", tags=["a", "b"])
        logged = (
            await session.scalars(select(MeImageEvent).where(MeImageEvent.image_id == image["id"]))
        ).first()
    assert logged is not None and logged.image is not None
    # The event's snapshot holds the row's own ciphertext of every declared field.
    for field in ME_IMAGE_ENCRYPTED:
        stored = getattr(row, field.column)
        assert field.column in logged.image
        assert logged.image[field.column] == (
            base64.b64encode(stored).decode() if stored is not None else None
        )
    assert row.label_ct is not None and row.tags_ct is not None
