"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 12:32:50.068904
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Split by table group (was one generated function); the statements are unchanged.
    _create_event_log()
    _create_owners()
    _create_media()
    _create_images()


def _create_event_log() -> None:
    op.create_table(
        "me_image_event",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("space_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("me_image_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_me_image_event_owner_seq", ["owner_id", "space_id", "seq"], unique=False
        )


def _create_owners() -> None:
    op.create_table(
        "owner",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("ai_uses_reference_images", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "data_key",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("master_key_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["owner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("data_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_key_owner_id"), ["owner_id"], unique=False)


def _create_media() -> None:
    op.create_table(
        "media_object",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("storage_path", sa.String(length=300), nullable=False),
        sa.Column("thumbnail_path", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["owner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "sha256", name="uq_media_object_owner_sha"),
    )
    op.create_table(
        "media_ref",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("app", sa.String(length=32), nullable=False),
        sa.Column("media_object_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["media_object_id"], ["media_object.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["owner_id"], ["owner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "owner_id", "app", "media_object_id", name="uq_media_ref_owner_app_obj"
        ),
    )


def _create_images() -> None:
    op.create_table(
        "me_image",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("space_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label_ct", sa.LargeBinary(), nullable=True),
        sa.Column("tags_ct", sa.LargeBinary(), nullable=True),
        sa.Column("media_ref_id", sa.String(length=36), nullable=False),
        sa.Column("ai_reference", sa.Boolean(), nullable=False),
        sa.Column("show_in_profile", sa.Boolean(), nullable=False),
        sa.Column("primary_for", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["media_ref_id"], ["media_ref.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["owner_id"], ["owner.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("me_image", schema=None) as batch_op:
        batch_op.create_index(
            "ix_me_image_owner_space_live", ["owner_id", "space_id", "deleted_at"], unique=False
        )
        batch_op.create_index(
            "uq_me_image_primary_slot",
            ["owner_id", "space_id", "primary_for"],
            unique=True,
            sqlite_where=sa.text("primary_for IS NOT NULL AND deleted_at IS NULL"),
            postgresql_where=sa.text("primary_for IS NOT NULL AND deleted_at IS NULL"),
        )


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("me_image", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_me_image_primary_slot",
            sqlite_where=sa.text("primary_for IS NOT NULL AND deleted_at IS NULL"),
            postgresql_where=sa.text("primary_for IS NOT NULL AND deleted_at IS NULL"),
        )
        batch_op.drop_index("ix_me_image_owner_space_live")

    op.drop_table("me_image")
    op.drop_table("media_ref")
    op.drop_table("media_object")
    with op.batch_alter_table("data_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_key_owner_id"))

    op.drop_table("data_key")
    op.drop_table("owner")
    with op.batch_alter_table("me_image_event", schema=None) as batch_op:
        batch_op.drop_index("ix_me_image_event_owner_seq")

    op.drop_table("me_image_event")
    # ### end Alembic commands ###
