"""Migration 0007_media_space on both databases: existing media get the space of their
images, duplicates are split so one live image holds each media id, it matches the
tables, and it goes down and up again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from storage import migrate
from storage.db import Database
from storage.migrate import alembic_config
from storage.tables import metadata
from tests.support.databases import BACKENDS, create_database, drop_database

BEFORE = ("0002_media", "0004_generation", "0005_owner_version", "0006_event_seq")
MINE = ("media_ref", "me_image")
T0 = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def _seed(db: Database) -> None:
    async with db.engine.begin() as conn:

        async def run(sql: str, **params: Any) -> None:
            await conn.execute(text(sql), params)

        await run(
            "INSERT INTO owner (id, ai_uses_reference_images, created_at, updated_at) "
            "VALUES ('o1', true, :t, :t)",
            t=at(0),
        )
        for obj in ("obj1", "obj2", "obj3"):
            await run(
                "INSERT INTO media_object (id, owner_id, sha256, content_type, byte_size, width,"
                " height, storage_path, thumbnail_path, created_at) VALUES (:id, 'o1', :id,"
                " 'image/jpeg', 1, 1, 1, :id, :thumb, :t)",
                id=obj,
                thumb=f"{obj}.thumb",
                t=at(0),
            )
        for ref, app, obj in (
            ("r1", "me", "obj1"),
            ("r2", "me", "obj2"),
            ("r3", "me", "obj3"),
            ("r4", "picture", "obj1"),
        ):
            await run(
                "INSERT INTO media_ref (id, owner_id, app, media_object_id, created_at) "
                "VALUES (:id, 'o1', :app, :obj, :t)",
                id=ref,
                app=app,
                obj=obj,
                t=at(1),
            )
        images = (
            # r1: live in personal (oldest), live in brand, a live duplicate, a deleted one
            ("i1", "personal", "r1", 2, None),
            ("i2", "brand", "r1", 3, None),
            ("i3", "personal", "r1", 4, None),
            ("i4", "brand", "r1", 5, at(6)),
            # r2: only a deleted image, in the club space
            ("d1", "club", "r2", 2, at(3)),
        )
        for image_id, space, ref, created, deleted in images:
            await run(
                "INSERT INTO me_image (id, owner_id, space_id, kind, media_ref_id, ai_reference,"
                " show_in_profile, created_at, updated_at, deleted_at) VALUES (:id, 'o1',"
                " :space, 'face', :ref, false, true, :t, :t, :deleted)",
                id=image_id,
                space=space,
                ref=ref,
                t=at(created),
                deleted=deleted,
            )
        # r4 is an output of two generations in two spaces (the same bytes came back).
        for gen, space, created in (("g1", "brand", 2), ("g2", "personal", 3)):
            await run(
                "INSERT INTO generation (id, owner_id, space_id, status, prompt_ct,"
                " model_requested, quality, size, n, reference_ids, outputs, credits_held,"
                " credits_charged, created_at) VALUES (:id, 'o1', :space, 'succeeded', :ct,"
                " 'openai/gpt-image-1', 'low', '1024x1024', 1, '[]', :outputs, 0, 3, :t)",
                id=gen,
                space=space,
                ct=b"x",
                outputs='[{"index": 0, "mediaId": "r4", "contentType": "image/png",'
                ' "width": 1, "height": 1}]',
                t=at(created),
            )


async def _state(db: Database) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        columns = await conn.run_sync(
            lambda s: {c["name"] for c in inspect(s).get_columns("media_ref")}
        )
        space = ", space_id" if "space_id" in columns else ""
        refs = {
            row[0]: tuple(row[1:])
            for row in await conn.execute(
                text(f"SELECT id, app, media_object_id{space} FROM media_ref")
            )
        }
        images = dict((await conn.execute(text("SELECT id, media_ref_id FROM me_image"))).all())
        outputs = {}
        for gen, raw in await conn.execute(text("SELECT id, outputs FROM generation")):
            parsed = raw if isinstance(raw, list) else __import__("json").loads(raw)
            outputs[gen] = [o["mediaId"] for o in parsed]
    return {"refs": refs, "images": images, "outputs": outputs}


def _diff_of_mine(sync: Any) -> list[Any]:
    diffs = compare_metadata(MigrationContext.configure(sync), metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    return [d for d in flat if any(f"'{t}'" in repr(d) for t in MINE)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_existing_media_move_into_their_spaces_and_duplicates_split(
    backend: str, tmp_path: Path
) -> None:
    url = (
        await create_database("meimages_m7")
        if backend == "postgres"
        else f"sqlite+aiosqlite:///{tmp_path / 'm7.db'}"
    )
    db = Database(url)
    try:
        for revision in BEFORE:
            await migrate.upgrade(db, revision)
        await _seed(db)
        await migrate.upgrade(db)
        after = await _state(db)
        refs, images, outputs = after["refs"], after["images"], after["outputs"]

        assert refs["r1"] == ("me", "obj1", "personal")  # its oldest live image's space
        assert images["i1"] == "r1" and images["i4"] == "r1"  # deleted rows stay
        # Every further live image got its own reference to the same object, in its space.
        assert refs[images["i2"]] == ("me", "obj1", "brand")
        assert refs[images["i3"]] == ("me", "obj1", "personal")
        assert len({images["i1"], images["i2"], images["i3"]}) == 3
        assert refs["r2"] == ("me", "obj2", "club")  # only a deleted image: its space
        assert refs["r3"] == ("me", "obj3", "personal")  # never attached: personal
        # Outputs: the oldest generation's space keeps the id; the other gets its own.
        assert refs["r4"] == ("picture", "obj1", "brand")
        assert outputs["g1"] == ["r4"]
        assert outputs["g2"] != ["r4"] and refs[outputs["g2"][0]] == ("picture", "obj1", "personal")
        assert len(refs) == 7

        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff_of_mine) == []
        # The new index: one live image per media id.
        with pytest.raises(IntegrityError):
            async with db.engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO me_image (id, owner_id, space_id, kind, media_ref_id,"
                        " ai_reference, show_in_profile, created_at, updated_at) VALUES ('i5',"
                        " 'o1', 'personal', 'face', 'r1', false, true, :t, :t)"
                    ),
                    {"t": at(9)},
                )

        # Down: the split references fold back into the oldest one, then up again.
        async with db.engine.connect() as conn:
            # Down to one of its parents takes 0007 off and leaves the four branches.
            await conn.run_sync(lambda s: command.downgrade(alembic_config(s), "0006_event_seq"))
            heads = await conn.run_sync(lambda s: MigrationContext.configure(s).get_current_heads())
            await conn.commit()
        assert set(heads) == set(BEFORE)
        down = await _state(db)
        # Which of the equally old references of one object survives is not specified.
        survivor = {value: ref for ref, value in down["refs"].items()}
        assert sorted(survivor) == [
            ("me", "obj1"),
            ("me", "obj2"),
            ("me", "obj3"),
            ("picture", "obj1"),
        ]
        assert down["refs"]["r2"] == ("me", "obj2") and down["refs"]["r3"] == ("me", "obj3")
        assert set(down["images"].values()) == {survivor[("me", "obj1")], "r2"}
        assert down["outputs"] == {g: [survivor[("picture", "obj1")]] for g in ("g1", "g2")}
        await migrate.upgrade(db)
        again = await _state(db)
        assert len(again["refs"]) == 7
        assert len(set(again["images"].values())) == 4  # i1, i2, i3 apart; i4 with one of them
    finally:
        await db.dispose()
        if backend == "postgres":
            await drop_database(url)
