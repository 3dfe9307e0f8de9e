"""Migration 0004_generation: up and down on both databases, and it matches the tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import Database
from storage.migrate import alembic_config
from storage.tables import metadata
from tests.conftest import BACKENDS
from tests.pg import create_database, drop_database

MINE = {"generation", "credit_entry"}


async def _fresh_url(backend: str, tmp_path: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}", None
    url = await create_database("meimages_mig")
    return url, url


async def _drop(url: str | None) -> None:
    if url is not None:
        await drop_database(url)


def _diff_of_mine(sync: Any) -> list[Any]:
    diffs = compare_metadata(MigrationContext.configure(sync), metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    return [d for d in flat if any(t in repr(d) for t in MINE)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_upgrade_matches_tables_and_downgrades(backend: str, tmp_path: Path) -> None:
    url, name = await _fresh_url(backend, tmp_path)
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            await conn.run_sync(lambda s: command.upgrade(alembic_config(s), "0004_generation"))
            await conn.commit()
            tables = await conn.run_sync(lambda s: set(inspect(s).get_table_names()))
            assert tables >= MINE
            assert await conn.run_sync(_diff_of_mine) == []
            await conn.run_sync(lambda s: command.downgrade(alembic_config(s), "0004_generation-1"))
            await conn.commit()
            tables = await conn.run_sync(lambda s: set(inspect(s).get_table_names()))
            assert not tables & MINE and "me_image" in tables
    finally:
        await db.dispose()
        await _drop(name)
