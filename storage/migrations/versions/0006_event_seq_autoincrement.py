"""event numbers are never reused on SQLite (AUTOINCREMENT)

Revision ID: 0006_event_seq
Revises: 0003_events
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_event_seq"
down_revision: str | None = "0003_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL sequences never hand a number out twice; only SQLite needs the change,
    # which means rebuilding the table (batch mode copies the rows across).
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "me_image_event", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "me_image_event", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
