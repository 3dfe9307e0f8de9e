"""Migrations 0004_generation and 0008_generation_idempotency: up and down on both
databases, and the tables match them."""

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

MINE = {"generation", "credit_entry"}
LATEST = "0008_generation_idempotency"


def _diff_of_mine(sync: Any) -> list[Any]:
    diffs = compare_metadata(MigrationContext.configure(sync), metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    return [d for d in flat if any(t in repr(d) for t in MINE)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_upgrade_matches_tables_and_downgrades(backend: str, tmp_path: Path) -> None:
    async with (
        database_of_its_own(backend, tmp_path, "meimages_mig") as db,
        db.engine.connect() as conn,
    ):
        await conn.run_sync(lambda s: command.upgrade(alembic_config(s), "heads"))
        await conn.commit()
        tables = await conn.run_sync(lambda s: set(inspect(s).get_table_names()))
        assert tables >= MINE
        assert await conn.run_sync(_diff_of_mine) == []
        await conn.run_sync(lambda s: command.downgrade(alembic_config(s), f"{LATEST}-1"))
        await conn.commit()
        await conn.run_sync(lambda s: command.downgrade(alembic_config(s), "0004_generation-1"))
        await conn.commit()
        tables = await conn.run_sync(lambda s: set(inspect(s).get_table_names()))
        assert not tables & MINE and "me_image" in tables


@pytest.mark.parametrize("backend", BACKENDS)
async def test_idempotency_migration_keeps_rows_and_downgrades(
    backend: str, tmp_path: Path
) -> None:
    async with (
        database_of_its_own(backend, tmp_path, "meimages_mig") as db,
        db.engine.connect() as conn,
    ):
        await conn.run_sync(lambda s: command.upgrade(alembic_config(s), "0004_generation"))
        await conn.run_sync(lambda s: command.upgrade(alembic_config(s), "0006_event_seq"))
        await conn.execute(
            text(
                "INSERT INTO owner (id, ai_uses_reference_images, created_at, updated_at) "
                "VALUES ('o', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO generation (id, owner_id, space_id, status, prompt_ct, "
                "model_requested, quality, size, n, reference_ids, outputs, credits_held, "
                "credits_charged, created_at) VALUES ('g', 'o', 'personal', 'pending', "
                "'x', 'openai/gpt-image-2', 'low', 'auto', 1, '[]', '[]', 3, 0, "
                "CURRENT_TIMESTAMP)"
            )
        )
        await conn.commit()
        await conn.run_sync(lambda s: command.upgrade(alembic_config(s), LATEST))
        await conn.commit()
        kept = (
            await conn.execute(
                text(
                    "SELECT id, credits_held, heartbeat_at = created_at, idempotency_key "
                    "FROM generation"
                )
            )
        ).all()
        assert [tuple(row) for row in kept] == [("g", 3, True, None)]
        indexes = await conn.run_sync(
            lambda s: {i["name"]: i for i in inspect(s).get_indexes("generation")}
        )
        assert indexes["uq_generation_idempotency_key"]["unique"]
        assert "ix_generation_status_heartbeat" in indexes
        await conn.run_sync(lambda s: command.downgrade(alembic_config(s), f"{LATEST}-1"))
        await conn.commit()
        columns = await conn.run_sync(
            lambda s: {c["name"] for c in inspect(s).get_columns("generation")}
        )
        assert not columns & {"heartbeat_at", "idempotency_key", "input_hash_ct"}
        assert "credits_held" in columns
