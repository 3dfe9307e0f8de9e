"""media belongs to an owner and a space; one live MeImage per media id

Revision ID: 0007_media_space
Revises: 0002_media, 0004_generation, 0005_owner_version, 0006_event_seq
Create Date: 2026-11-29

`media_ref` gets `space_id`: a media id is found only through the space it was uploaded
into. The old unique (owner, app, object) goes, because a media id is now one upload:
the same bytes uploaded again, in any space, get a reference of their own (the bytes
stay stored once per owner, in `media_object`). A partial unique index
allows one live `me_image` per media id.

Existing rows: a reference takes the space of its oldest live image (else of its
oldest image, else of the generation that produced it, else the owner's personal
space). Every further live image of the reference - another space's, or a duplicate
in the same space - gets a reference of its own to the same object, so the new index
holds and nothing that was visible becomes invisible. Generation outputs shared
across spaces are split the same way. This data pass reads the media tables into
memory once; pools are small (a few images per person).

This revision also joins the branches 0002/0004/0005/0006 into one head.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007_media_space"
down_revision: str | Sequence[str] | None = (
    "0002_media",
    "0004_generation",
    "0005_owner_version",
    "0006_event_seq",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSONAL_SPACE = "personal"
_LIVE = "deleted_at IS NULL"

media_ref = sa.table(
    "media_ref",
    sa.column("id", sa.String),
    sa.column("owner_id", sa.String),
    sa.column("space_id", sa.String),
    sa.column("app", sa.String),
    sa.column("media_object_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
me_image = sa.table(
    "me_image",
    sa.column("id", sa.String),
    sa.column("space_id", sa.String),
    sa.column("media_ref_id", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("deleted_at", sa.DateTime(timezone=True)),
)
generation = sa.table(
    "generation",
    sa.column("id", sa.String),
    sa.column("space_id", sa.String),
    sa.column("outputs", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _new_id() -> str:
    return str(uuid.uuid4())


def _rebuild_media_ref(build: Any) -> None:
    """Run a batch change of media_ref; SQLite rebuilds the table for it.

    me_image references media_ref with ON DELETE RESTRICT, and SQLite's DROP TABLE of
    the old copy would count as deleting every row, so foreign keys are off for the
    rebuild (as Alembic's batch documentation advises) and checked afterwards.
    """
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        with op.batch_alter_table("media_ref") as batch_op:
            build(batch_op)
    finally:
        if sqlite:
            bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    if sqlite:
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the media_ref rebuild: {broken[:5]}")


def _images_by_ref(bind: Any) -> dict[str, list[Any]]:
    """media id -> the images that held it, oldest first."""
    images: dict[str, list[Any]] = defaultdict(list)
    for row in bind.execute(
        sa.select(
            me_image.c.id,
            me_image.c.space_id,
            me_image.c.media_ref_id,
            me_image.c.created_at,
            me_image.c.deleted_at,
        ).order_by(me_image.c.created_at, me_image.c.id)
    ):
        images[row.media_ref_id].append(row)
    return images


def _outputs_by_ref(bind: Any) -> tuple[Sequence[Any], dict[str, list[tuple[str, str]]]]:
    """Every generation, and media id -> [(generation id, space)], oldest first."""
    outputs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    generations = bind.execute(
        sa.select(generation.c.id, generation.c.space_id, generation.c.outputs).order_by(
            generation.c.created_at, generation.c.id
        )
    ).all()
    for gen in generations:
        for out in gen.outputs or []:
            if isinstance(out, dict) and out.get("mediaId"):
                outputs[str(out["mediaId"])].append((gen.id, gen.space_id))
    return generations, outputs


def _split_ref(bind: Any, ref: Any, into_space: str) -> str:
    """A new media id for the same object in another space."""
    new_ref = _new_id()
    bind.execute(
        sa.insert(media_ref).values(
            id=new_ref,
            owner_id=ref.owner_id,
            space_id=into_space,
            app=ref.app,
            media_object_id=ref.media_object_id,
            created_at=ref.created_at,
        )
    )
    return new_ref


def _assign_spaces(bind: Any) -> None:
    refs = bind.execute(
        sa.select(
            media_ref.c.id,
            media_ref.c.owner_id,
            media_ref.c.app,
            media_ref.c.media_object_id,
            media_ref.c.created_at,
        )
    ).all()
    images = _images_by_ref(bind)
    generations, outputs = _outputs_by_ref(bind)
    # (generation id, old media id) -> new media id, for outputs moved to a new reference
    rewritten: dict[tuple[str, str], str] = {}
    for ref in refs:
        attached = images.get(ref.id, [])
        live = [image for image in attached if image.deleted_at is None]
        produced_by = outputs.get(ref.id, [])
        if live:
            space = live[0].space_id
        elif attached:
            space = attached[0].space_id
        elif produced_by:
            space = produced_by[0][1]
        else:
            space = PERSONAL_SPACE
        bind.execute(sa.update(media_ref).where(media_ref.c.id == ref.id).values(space_id=space))
        for image in live[1:]:
            bind.execute(
                sa.update(me_image)
                .where(me_image.c.id == image.id)
                .values(media_ref_id=_split_ref(bind, ref, image.space_id))
            )
        by_space: dict[str, str] = {space: ref.id}
        for generation_id, gen_space in produced_by:
            if gen_space not in by_space:
                by_space[gen_space] = _split_ref(bind, ref, gen_space)
            if by_space[gen_space] != ref.id:
                rewritten[(generation_id, ref.id)] = by_space[gen_space]
    _rewrite_outputs(bind, generations, rewritten)


def _rewrite_outputs(
    bind: Any, generations: Sequence[Any], moved: dict[tuple[str, str], str]
) -> None:
    if not moved:
        return
    for gen in generations:
        changed = False
        new_outputs = []
        for out in gen.outputs or []:
            if isinstance(out, dict) and (gen.id, str(out.get("mediaId"))) in moved:
                out = {**out, "mediaId": moved[(gen.id, str(out["mediaId"]))]}
                changed = True
            new_outputs.append(out)
        if changed:
            bind.execute(
                sa.update(generation).where(generation.c.id == gen.id).values(outputs=new_outputs)
            )


def upgrade() -> None:
    bind = op.get_bind()

    def loosen(batch_op: Any) -> None:
        batch_op.add_column(sa.Column("space_id", sa.String(length=200), nullable=True))
        batch_op.drop_constraint("uq_media_ref_owner_app_obj", type_="unique")

    _rebuild_media_ref(loosen)
    _assign_spaces(bind)

    def tighten(batch_op: Any) -> None:
        batch_op.alter_column("space_id", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index("ix_media_ref_owner_space", ["owner_id", "space_id"], unique=False)

    _rebuild_media_ref(tighten)
    op.create_index("ix_me_image_media_ref", "me_image", ["media_ref_id"], unique=False)
    op.create_index(
        "uq_me_image_live_media",
        "me_image",
        ["media_ref_id"],
        unique=True,
        sqlite_where=sa.text(_LIVE),
        postgresql_where=sa.text(_LIVE),
    )


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index(
        "uq_me_image_live_media",
        table_name="me_image",
        sqlite_where=sa.text(_LIVE),
        postgresql_where=sa.text(_LIVE),
    )
    op.drop_index("ix_me_image_media_ref", table_name="me_image")
    # Back to one reference per (owner, app, object): the oldest keeps it, the others
    # are folded into it (images and generation outputs re-pointed, then removed).
    refs = bind.execute(
        sa.select(
            media_ref.c.id, media_ref.c.owner_id, media_ref.c.app, media_ref.c.media_object_id
        ).order_by(media_ref.c.created_at, media_ref.c.id)
    ).all()
    keeper: dict[tuple[str, str, str], str] = {}
    folded: dict[str, str] = {}
    for ref in refs:
        key = (ref.owner_id, ref.app, ref.media_object_id)
        if key in keeper:
            folded[ref.id] = keeper[key]
        else:
            keeper[key] = ref.id
    if folded:
        for old, new in folded.items():
            bind.execute(
                sa.update(me_image).where(me_image.c.media_ref_id == old).values(media_ref_id=new)
            )
        generations = bind.execute(sa.select(generation.c.id, generation.c.outputs)).all()
        moved = {
            (gen.id, str(out.get("mediaId"))): folded[str(out.get("mediaId"))]
            for gen in generations
            for out in gen.outputs or []
            if isinstance(out, dict) and str(out.get("mediaId")) in folded
        }
        _rewrite_outputs(bind, generations, moved)
        bind.execute(sa.delete(media_ref).where(media_ref.c.id.in_(list(folded))))

    def restore(batch_op: Any) -> None:
        batch_op.drop_index("ix_media_ref_owner_space")
        batch_op.drop_column("space_id")
        batch_op.create_unique_constraint(
            "uq_media_ref_owner_app_obj", ["owner_id", "app", "media_object_id"]
        )

    _rebuild_media_ref(restore)
