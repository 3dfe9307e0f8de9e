"""generation: idempotency keys (unique per owner and space) and a heartbeat for the sweeper

Revision ID: 0008_generation_idempotency
Revises: 0006_event_seq (to become 0007 once that lands), needs 0004_generation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_generation_idempotency"
down_revision: str | None = "0007_media_space"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYED = "idempotency_key IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("input_hash_ct", sa.LargeBinary(), nullable=True))
    # Existing rows last beat when they started: a pending one from before is long stale.
    op.execute("UPDATE generation SET heartbeat_at = created_at")
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.alter_column(
            "heartbeat_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_index(
            "uq_generation_idempotency_key",
            ["owner_id", "space_id", "idempotency_key"],
            unique=True,
            sqlite_where=sa.text(_KEYED),
            postgresql_where=sa.text(_KEYED),
        )
        batch_op.create_index("ix_generation_status_heartbeat", ["status", "heartbeat_at"])


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_index("ix_generation_status_heartbeat")
        batch_op.drop_index(
            "uq_generation_idempotency_key",
            sqlite_where=sa.text(_KEYED),
            postgresql_where=sa.text(_KEYED),
        )
        batch_op.drop_column("input_hash_ct")
        batch_op.drop_column("idempotency_key")
        batch_op.drop_column("heartbeat_at")
