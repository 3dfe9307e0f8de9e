"""event log: image snapshots, retention horizon

Revision ID: 0003_events
Revises: 0001
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_events"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("me_image_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image", sa.JSON(), nullable=True))
        batch_op.create_index("ix_me_image_event_created_at", ["created_at"], unique=False)

    op.create_table(
        "event_log_horizon",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The single row exists from the start, so pruning only ever raises it.
    op.execute("INSERT INTO event_log_horizon (id, pruned_through) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("event_log_horizon")
    with op.batch_alter_table("me_image_event", schema=None) as batch_op:
        batch_op.drop_index("ix_me_image_event_created_at")
        batch_op.drop_column("image")
