"""generation: the inpainting mask, kept encrypted with the generation

Revision ID: 0012_masks_chaining
Revises: 0011_exports
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_masks_chaining"
down_revision: str | None = "0011_exports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mask_ct", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation", schema=None) as batch_op:
        batch_op.drop_column("mask_ct")
