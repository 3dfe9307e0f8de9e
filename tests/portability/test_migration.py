"""Migration 0011_exports: up and down on both databases, and the table matches it."""

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
from tests.support.databases import BACKENDS, throwaway_database

REVISION = "0011_exports"


def _diff_of_exports(sync: Any) -> list[Any]:
    diffs = compare_metadata(MigrationContext.configure(sync), metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    return [d for d in flat if "export_job" in repr(d)]


def _tables(sync: Any) -> set[str]:
    return set(inspect(sync).get_table_names())


@pytest.mark.parametrize("backend", BACKENDS)
async def test_exports_migration_matches_the_table_and_downgrades(
    backend: str, tmp_path: Path
) -> None:
    async with throwaway_database(backend, tmp_path, prefix="meimages_mig") as url:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                await conn.run_sync(lambda s: command.upgrade(alembic_config(s), "heads"))
                await conn.commit()
                assert "export_job" in await conn.run_sync(_tables)
                assert await conn.run_sync(_diff_of_exports) == []
                await conn.run_sync(lambda s: command.downgrade(alembic_config(s), f"{REVISION}-1"))
                await conn.commit()
                tables = await conn.run_sync(_tables)
                assert "export_job" not in tables and "me_image" in tables
                await conn.run_sync(lambda s: command.upgrade(alembic_config(s), REVISION))
                await conn.commit()
                assert await conn.run_sync(_diff_of_exports) == []
        finally:
            await db.dispose()
