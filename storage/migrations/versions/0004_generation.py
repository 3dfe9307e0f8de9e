"""reference generation: generations and the credit ledger

Revision ID: 0004_generation
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_generation"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "generation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("space_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("prompt_ct", sa.LargeBinary(), nullable=False),
        sa.Column("model_requested", sa.String(length=64), nullable=False),
        sa.Column("model_used", sa.String(length=64), nullable=True),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.Column("size", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("reference_ids", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("credits_held", sa.Integer(), nullable=False),
        sa.Column("credits_charged", sa.Integer(), nullable=False),
        sa.Column("failure", sa.String(length=300), nullable=True),
        sa.Column("warning", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["owner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_generation_owner_space_created", ["owner_id", "space_id", "created_at"]
        )
        batch_op.create_index("ix_generation_owner_status", ["owner_id", "status"])

    op.create_table(
        "credit_entry",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("generation_id", sa.String(length=36), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["owner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("generation_id", name="uq_credit_entry_generation"),
    )
    with op.batch_alter_table("credit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_credit_entry_owner", ["owner_id"])
        batch_op.create_index(
            "uq_credit_entry_welcome",
            ["owner_id"],
            unique=True,
            sqlite_where=sa.text("reason = 'welcome'"),
            postgresql_where=sa.text("reason = 'welcome'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_entry", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_credit_entry_welcome",
            sqlite_where=sa.text("reason = 'welcome'"),
            postgresql_where=sa.text("reason = 'welcome'"),
        )
        batch_op.drop_index("ix_credit_entry_owner")
    op.drop_table("credit_entry")
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_index("ix_generation_owner_status")
        batch_op.drop_index("ix_generation_owner_space_created")
    op.drop_table("generation")
