"""Migration 0003_events matches the tables, keeps existing events, and downgrades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from storage.migrate import alembic_config, upgrade
from storage.tables import metadata
from tests.support.databases import BACKENDS, database_of_its_own

MINE = ("me_image_event", "event_log_horizon")


def _diff_of_mine(sync: Any) -> list[Any]:
    diffs = compare_metadata(MigrationContext.configure(sync), metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    return [d for d in flat if any(t in repr(d) for t in MINE)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_upgrade_keeps_events_matches_tables_and_downgrades(
    backend: str, tmp_path: Path
) -> None:
    async with database_of_its_own(backend, tmp_path, "meimages_events") as db:
        async with db.engine.connect() as conn:
            await conn.run_sync(lambda s: command.upgrade(alembic_config(s), "0001"))
            await conn.execute(
                text(
                    "INSERT INTO me_image_event (owner_id, space_id, type, image_id, payload, "
                    "created_at) VALUES ('o', 'personal', 'MeImageAdded', 'i', "
                    '\'{"kind": "face"}\', CURRENT_TIMESTAMP)'
                )
            )
            await conn.commit()
        await upgrade(db)
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff_of_mine) == []
            kept = (await conn.execute(text("SELECT seq, type FROM me_image_event"))).all()
            assert [tuple(row) for row in kept] == [(1, "MeImageAdded")]
            horizon = await conn.execute(text("SELECT id, pruned_through FROM event_log_horizon"))
            assert [tuple(row) for row in horizon] == [(1, 0)]
            await conn.run_sync(lambda s: command.downgrade(alembic_config(s), "0003_events-1"))
            await conn.commit()
            columns = await conn.run_sync(
                lambda s: {c["name"] for c in inspect(s).get_columns("me_image_event")}
            )
            tables = await conn.run_sync(lambda s: set(inspect(s).get_table_names()))
            assert "image" not in columns and "event_log_horizon" not in tables
