"""media: medium variant, blob registry for the garbage collector, cached transforms

Revision ID: 0002_media
Revises: 0001
Create Date: 2026-11-25 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_media"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media_object", schema=None) as batch_op:
        batch_op.add_column(sa.Column("medium_path", sa.String(length=300), nullable=True))

    op.create_table(
        "media_blob",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("orphaned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("media_blob", schema=None) as batch_op:
        batch_op.create_index("ix_media_blob_orphaned_at", ["orphaned_at"], unique=False)

    op.create_table(
        "media_variant",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("media_object_id", sa.String(length=36), nullable=False),
        sa.Column("spec", sa.String(length=64), nullable=False),
        sa.Column("storage_path", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["media_object_id"], ["media_object.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("media_object_id", "spec", name="uq_media_variant_object_spec"),
    )

    # Blobs written before this revision are all referenced by their media rows.
    for column in ("storage_path", "thumbnail_path"):
        op.execute(
            sa.text(
                f"INSERT INTO media_blob (key, owner_id, created_at, orphaned_at) "
                f"SELECT {column}, owner_id, created_at, NULL FROM media_object "
                f"WHERE {column} NOT IN (SELECT key FROM media_blob)"
            )
        )


def downgrade() -> None:
    op.drop_table("media_variant")
    with op.batch_alter_table("media_blob", schema=None) as batch_op:
        batch_op.drop_index("ix_media_blob_orphaned_at")
    op.drop_table("media_blob")
    with op.batch_alter_table("media_object", schema=None) as batch_op:
        batch_op.drop_column("medium_path")
