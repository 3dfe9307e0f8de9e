"""Schema migrations (Alembic), run at startup or by `meimages migrate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from storage.db import Database

_SCRIPTS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every instance.
_PG_LOCK = 0x6D65696D


def alembic_config(connection: Any = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, revision: str = "heads") -> None:
    async with db.engine.connect() as conn:
        if not db.is_sqlite:
            # Several instances starting at once must not migrate side by side.
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK})
        try:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise
        finally:
            if not db.is_sqlite:
                # Session-level lock: it outlives the rolled-back transaction, so release it.
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK})
                await conn.commit()
