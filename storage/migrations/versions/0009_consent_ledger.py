"""consent: the usage ledger, consent for a time, the owner's provider allowlist

Revision ID: 0009_consent_ledger
Revises: 0008_generation_idempotency
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_consent_ledger"
down_revision: str | None = "0008_generation_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("me_image", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ai_reference_until", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("owner", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allowed_providers", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("consent_lapses_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_owner_consent_lapses_at", ["consent_lapses_at"])
    op.create_table(
        "reference_use",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("space_id", sa.String(length=200), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("generation_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["owner.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["generation_id"], ["generation.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("generation_id", "image_id", name="uq_reference_use_generation_image"),
    )
    op.create_index(
        "ix_reference_use_owner_image", "reference_use", ["owner_id", "image_id", "used_at"]
    )
    op.create_index(
        "ix_reference_use_owner_space", "reference_use", ["owner_id", "space_id", "used_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_reference_use_owner_space", table_name="reference_use")
    op.drop_index("ix_reference_use_owner_image", table_name="reference_use")
    op.drop_table("reference_use")
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 has it): a batch copy would drop and
    # recreate `owner`, which SQLite refuses while other tables' rows point at it.
    op.drop_index("ix_owner_consent_lapses_at", table_name="owner")
    op.drop_column("owner", "consent_lapses_at")
    op.drop_column("owner", "allowed_providers")
    op.drop_column("me_image", "ai_reference_until")
