"""`meimages verify` finds every kind of damage, and `restore` refuses what it must.

The damage is done by hand to a stopped server's folder, as a disk or a careless
operator would: a missing blob, a stray one, bytes changed, a ciphertext that no longer
opens, two live holders of one slot, and a master key that is not the one in use.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from storage.crypto import KeyFile, MasterKey
from testbed.forkserver import ForkServer
from testbed.images import jpeg, png
from testbed.server import LiveServer
from tests.operations.deployments import Deployment, Deployments, serve

OWNER = "verified"


async def _stopped_folder(deployments: Deployments, serving: list[LiveServer]) -> Deployment:
    source = await deployments.fresh("source")
    server = serve(source, serving)
    async with httpx.AsyncClient(timeout=60) as http:
        client = server.graphql(http)
        await client.upload_image(
            jpeg(1), user=OWNER, input={"label": "left", "primaryFor": "FACE_REF"}
        )
        await client.upload_image(png(2), user=OWNER, input={"tags": ["right"]})
        await client.upload_image(jpeg(3), user=OWNER, input={"kind": "HANDS"})
    server.stop()
    return source


def _rows(source: Deployment, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(source.data_dir / "meimages.db")
    try:
        return list(db.execute(sql))
    finally:
        db.close()


def _write(source: Deployment, *statements: str) -> None:
    db = sqlite3.connect(source.data_dir / "meimages.db")
    try:
        for statement in statements:
            db.execute(statement)
        db.commit()
    finally:
        db.close()


async def test_verify_reports_every_kind_of_damage_and_exits_1(
    tmp_path: Path, serving: list[LiveServer], forks: ForkServer
) -> None:
    deployments = Deployments("sqlite-local", tmp_path, None, forks)
    source = await _stopped_folder(deployments, serving)
    whole = source.run("verify")
    assert whole.returncode == 0, whole.stdout + whole.stderr
    assert whole.stdout.startswith("whole: 3 live images, 9 blobs, 9 read")

    thumbnail = _rows(source, "SELECT thumbnail_path FROM media_object ORDER BY created_at")[0][0]
    original = _rows(source, "SELECT storage_path FROM media_object ORDER BY created_at")[1][0]
    second = _rows(source, "SELECT id FROM me_image ORDER BY created_at")[1][0]
    media = source.data_dir / "media"
    (media / str(thumbnail)).unlink()
    stray = media / "s" / "stray.bin"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"nobody wrote me")
    (media / str(original)).write_bytes(b"not the sealed photo any more")
    _write(
        source,
        # A label moved to another row no longer opens (ciphertexts are bound to their row).
        "UPDATE me_image SET label_ct = (SELECT label_ct FROM me_image WHERE label_ct IS NOT NULL)"
        f" WHERE id = '{second}'",
        # Two live holders of one slot, once the database no longer enforces it.
        "DROP INDEX uq_me_image_primary_slot",
        f"UPDATE me_image SET primary_for = 'face-ref' WHERE id = '{second}'",
    )
    damaged = source.run("verify")
    assert damaged.returncode == 1
    report = damaged.stdout + damaged.stderr
    assert damaged.stdout.startswith("NOT whole: 6 problems"), report
    assert f"media_object.thumbnail_path points at missing blob {thumbnail}" in report
    assert f"registered as referenced but missing: {thumbnail}" in report
    assert "blob nobody tracks: s/stray.bin" in report
    # Sealed media: bytes changed under a sealed name no longer open for their owner.
    assert f"blob {original} does not read: DecryptionError" in report
    assert f"me_image {second}: " in report
    assert f"slot face-ref of '{OWNER}' in space 'personal' held by 2 live images" in report

    # The wrong master key: every data key and ciphertext fails to open.
    other = tmp_path / "other-keys.json"
    KeyFile(other).write([MasterKey.generate()])
    wrong = source.run("verify", "--skip-reads", "--master-key-file", str(other))
    assert wrong.returncode == 1
    assert "data_key " in wrong.stderr and "is not configured" in wrong.stderr
    assert "the image's snapshot does not open" in wrong.stderr  # the event log's copies too


async def test_restore_refuses_a_folder_in_use_a_missing_key_and_a_lost_journal(
    tmp_path: Path, serving: list[LiveServer], forks: ForkServer
) -> None:
    deployments = Deployments("sqlite-local", tmp_path, None, forks)
    source = await _stopped_folder(deployments, serving)
    backup = tmp_path / "backup"
    taken = source.run("backup", str(backup))
    assert taken.returncode == 0, taken.stderr
    into_source = source.run("backup", str(tmp_path / "backup"))
    assert into_source.returncode == 2 and "not an empty folder" in into_source.stderr
    # A blob a row needs is gone from the live store: the backup says so, and is no backup.
    lost_blob = _rows(source, "SELECT thumbnail_path FROM media_object")[0][0]
    kept = source.data_dir / "media" / str(lost_blob)
    saved = kept.read_bytes()
    kept.unlink()
    partial = source.run("backup", str(tmp_path / "partial"))
    assert partial.returncode == 1, partial.stdout + partial.stderr
    assert f"missing from the live store: {lost_blob}" in partial.stderr
    assert partial.stdout.startswith("INCOMPLETE backup of 3 images")
    assert not (tmp_path / "partial" / "manifest.json").exists()
    kept.write_bytes(saved)
    keys = ["--master-key-file", str(source.data_dir / "master-keys.json")]
    journal = ["--erasures", str(source.data_dir / "erasures.jsonl")]

    # Into the source's own, non-empty folder.
    in_use = source.run("restore", str(backup), *keys, *journal)
    assert in_use.returncode == 2 and "is not empty" in in_use.stderr
    target = await deployments.fresh("target")
    no_key = target.run("restore", str(backup), *journal)
    assert no_key.returncode == 2 and "no master key" in no_key.stderr
    lost = target.run("restore", str(backup), *keys)
    assert lost.returncode == 2 and "no erasure journal" in lost.stderr
    assert not target.data_dir.exists()
    # And the one that works, with a server that serves only once it is done.
    restored = target.run("restore", str(backup), *keys, *journal)
    assert restored.returncode == 0, restored.stderr
    assert not (target.data_dir / "RESTORE-INCOMPLETE").exists()
    (target.data_dir / "RESTORE-INCOMPLETE").write_text("as a killed restore leaves it\n")
    refused = target.run("serve", "--port", "1")
    assert refused.returncode == 2 and "did not finish" in refused.stderr
