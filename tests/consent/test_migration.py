"""Migration 0009_consent_ledger: up and down on both databases, the tables match it, and
rows written before it keep working."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from storage.migrate import alembic_config
from storage.tables import metadata
from tests.support.databases import BACKENDS, database_of_its_own

MINE = "0009_consent_ledger"
BEFORE = "0008_generation_idempotency"


def _diff_of_mine(sync: Any) -> list[Any]:
    diffs = compare_metadata(MigrationContext.configure(sync), metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    words = ("reference_use", "ai_reference_until", "allowed_providers", "consent_lapses_at")
    return [d for d in flat if any(w in repr(d) for w in words)]


def _columns(sync: Any, table: str) -> set[str]:
    return {c["name"] for c in inspect(sync).get_columns(table)}


@pytest.mark.parametrize("backend", BACKENDS)
async def test_upgrade_keeps_rows_matches_tables_and_downgrades(
    backend: str, tmp_path: Path
) -> None:
    async with (
        database_of_its_own(backend, tmp_path, "meimages_consent") as db,
        db.engine.connect() as conn,
    ):
        await conn.run_sync(lambda s: command.upgrade(alembic_config(s), BEFORE))
        await conn.execute(
            text(
                "INSERT INTO owner (id, ai_uses_reference_images, created_at, updated_at) "
                "VALUES ('o', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        await conn.commit()
        await conn.run_sync(lambda s: command.upgrade(alembic_config(s), MINE))
        await conn.commit()
        assert "reference_use" in await conn.run_sync(lambda s: inspect(s).get_table_names())
        owner = (
            await conn.execute(text("SELECT allowed_providers, consent_lapses_at FROM owner"))
        ).one()
        assert tuple(owner) == (None, None)  # every provider allowed, nothing timed
        # With the later migrations of the ledger (0013_ledger_totals_index), the
        # tables are the ones declared; down again from there.
        await conn.run_sync(lambda s: command.upgrade(alembic_config(s), "heads"))
        await conn.commit()
        assert await conn.run_sync(_diff_of_mine) == []

        await conn.run_sync(lambda s: command.downgrade(alembic_config(s), BEFORE))
        await conn.commit()
        assert "reference_use" not in await conn.run_sync(lambda s: inspect(s).get_table_names())
        assert "ai_reference_until" not in await conn.run_sync(_columns, "me_image")
        assert "allowed_providers" not in await conn.run_sync(_columns, "owner")
        count = (await conn.execute(text("SELECT count(*) FROM owner"))).scalar_one()
        assert count == 1
