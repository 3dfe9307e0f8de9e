"""reference_use: an index that holds an image's totals (count, last use) by itself

Revision ID: 0013_ledger_totals_index
Revises: 0012_masks_chaining

Every write to an image answers with its use count and last use, and every pool read
with those of each image. Over (owner, image, used_at) each ledger row was also looked
up in the table for its space: the cost grew with the ledger. Over (owner, space, image,
used_at) the totals are read from the index alone, grouped in its order.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_ledger_totals_index"
down_revision: str | None = "0012_masks_chaining"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_reference_use_owner_space_image",
        "reference_use",
        ["owner_id", "space_id", "image_id", "used_at"],
    )
    op.drop_index("ix_reference_use_owner_image", table_name="reference_use")


def downgrade() -> None:
    op.create_index(
        "ix_reference_use_owner_image", "reference_use", ["owner_id", "image_id", "used_at"]
    )
    op.drop_index("ix_reference_use_owner_space_image", table_name="reference_use")
