"""Backup, restore and verify, end to end, as an operator runs them against live servers.

On the embedded default (SQLite + local folder) and on PostgreSQL + S3:
- a restore answers the same GraphQL queries with the same results as the source did
  when the backup was taken, and serves the same bytes;
- a person purged after the backup (and an image purged after it) is gone after restore;
- a backup taken while uploads, swaps and deletes run holds every upload acknowledged
  before it started;
- a backup killed half-way is never reported complete, `verify` finds it incomplete and
  `restore` refuses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from storage.backup import INCOMPLETE, MANIFEST, MEDIA
from testbed.graphql import GraphQLClient
from testbed.images import jpeg, png
from testbed.server import LiveServer
from tests.operations.deployments import (
    Deployment,
    Deployments,
    answers,
    blob_exists,
    media_url,
    serve,
)

SET_PRIMARY = (
    "mutation($id: ID!, $slot: PrimarySlot) { setPrimary(id: $id, slot: $slot) { __typename } }"
)
SET_AI = "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }"
DELETE = "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }"
ME_IMAGE = "query($id: ID!) { meImage(id: $id) { id mediaId storagePath publicUrl } }"
# Polls of the backup's folder for its first copied blob (a safety net, not a clock).
FIRST_BLOB_POLLS = 20_000


async def seed(client: GraphQLClient, alice: str, bob: str) -> dict[str, list[dict[str, Any]]]:
    """Two owners with labels, tags, kinds, slots and an AI opt-in: what queries show."""
    face = await client.upload_image(
        jpeg(1),
        user=alice,
        input={
            "kind": "FACE",
            "label": "front",
            "tags": ["studio", "2026"],
            "primaryFor": "FACE_REF",
        },
    )
    hands = await client.upload_image(png(2), user=alice, input={"kind": "HANDS"})
    reference = await client.upload_image(jpeg(3), user=alice, input={"label": "coat"})
    await client.gql(SET_AI, {"id": reference["id"]}, user=alice)
    own = await client.upload_image(
        jpeg(4), user=bob, input={"kind": "FACE", "primaryFor": "AVATAR"}
    )
    spare = await client.upload_image(png(5), user=bob, input={"tags": ["spare"]})
    return {alice: [face, hands, reference], bob: [own, spare]}


def master_key_args(deployment: Deployment) -> list[str]:
    """The embedded default keeps its master key in a file, kept apart from backups."""
    if "MEIMAGES_MASTER_KEY" in deployment.settings:
        return []
    return ["--master-key-file", str(deployment.data_dir / "master-keys.json")]


def restore_into(target: Deployment, backup: Path, source: Deployment) -> tuple[int, str]:
    done = target.run(
        "restore",
        str(backup),
        "--erasures",
        str(source.data_dir / "erasures.jsonl"),
        *master_key_args(source),
    )
    return done.returncode, done.stdout + done.stderr


async def test_a_restore_answers_as_the_source_did_at_backup_time(
    deployments: Deployments, serving: list[LiveServer], tmp_path: Path
) -> None:
    alice, bob = "alice", "bob"
    source = await deployments.fresh("source")
    server = serve(source, serving)
    backup = tmp_path / "backup"
    async with httpx.AsyncClient(timeout=60) as http:
        client = server.graphql(http)
        await seed(client, alice, bob)
        before = await answers(client, [alice, bob])
        taken = source.run("backup", str(backup))
        assert taken.returncode == 0, taken.stderr
        assert "backup of 5 images: 15 blobs" in taken.stdout, taken.stdout
        # Changes after the backup are not in it (and are no erasures).
        await client.upload_image(jpeg(9), user=alice)
    manifest = json.loads((backup / MANIFEST).read_text())
    assert manifest["images"] == 5 and len(manifest["blobs"]) == 15
    assert not manifest["master_key_included"] and not (backup / "master-keys.json").exists()
    assert not (backup / INCOMPLETE).exists()

    target = await deployments.fresh("target")
    code, output = restore_into(target, backup, source)
    assert code == 0, output
    assert "restored 5 images, 15 blobs" in output and "0 erasures" in output, output
    restored = serve(target, serving)
    async with httpx.AsyncClient(timeout=60) as http:
        after = await answers(restored.graphql(http), [alice, bob])
    assert after == before
    checked = target.run("verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("whole: 5 live images, 15 blobs, 15 read")
    if target.database is not None:
        # PostgreSQL + S3: a database that already holds tables is no target.
        again = replace(target, data_dir=tmp_path / "again", database=None)
        code, output = restore_into(again, backup, source)
        assert code == 2 and "database of MEIMAGES_DATABASE_URL is not empty" in output, output


async def test_a_person_purged_after_the_backup_is_gone_after_the_restore(
    deployments: Deployments, serving: list[LiveServer], tmp_path: Path
) -> None:
    alice, bob = "alice", "bob"
    source = await deployments.fresh("source")
    server = serve(source, serving)
    backup = tmp_path / "backup"
    async with httpx.AsyncClient(timeout=60) as http:
        client = server.graphql(http)
        images = await seed(client, alice, bob)
        own, spare = images[bob]
        assert source.run("backup", str(backup)).returncode == 0
        # After the backup: alice is erased, and bob deletes an image that is purged.
        purged = source.run("purge", "--user", alice, "--yes")
        assert purged.returncode == 0, purged.stderr
        await client.gql(DELETE, {"id": spare["id"]}, user=bob)
        cleaned = source.run("purge", "--deleted", "--older-than", "0")
        assert cleaned.returncode == 0, cleaned.stderr
        bob_now = await answers(client, [bob])
    journal = [
        json.loads(line) for line in (source.data_dir / "erasures.jsonl").read_text().splitlines()
    ]
    assert [(entry["erase"], entry["owner"]) for entry in journal] == [
        ("owner", alice),
        ("images", bob),
    ]
    assert journal[1]["images"] == [spare["id"]]
    assert set(journal[0]) == {"at", "erase", "owner"}  # ids and times only

    target = await deployments.fresh("target")
    code, output = restore_into(target, backup, source)
    assert code == 0, output
    assert "2 erasures made since replayed (1 owners, 1 images)" in output, output
    restored = serve(target, serving)
    async with httpx.AsyncClient(timeout=60) as http:
        client = restored.graphql(http)
        assert await answers(client, [bob]) == bob_now
        assert (await client.gql("{ meImages { id } }", user=alice))["meImages"] == []
        assert await client.gql(ME_IMAGE, {"id": spare["id"]}, user=bob) == {"meImage": None}
    # Their bytes are gone from the restored store too; bob's kept image is whole.
    for image in [*images[alice], spare]:
        assert not blob_exists(target, deployments.s3, str(image["storagePath"])), image
    assert blob_exists(target, deployments.s3, str(own["storagePath"]))
    # The restored server keeps the journal, for a later restore of an older backup.
    kept = (target.data_dir / "erasures.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in kept] == journal
    assert target.run("verify").returncode == 0


async def test_a_backup_under_uploads_swaps_and_deletes_holds_every_acknowledged_upload(
    deployments: Deployments, serving: list[LiveServer], tmp_path: Path
) -> None:
    owner = "busy"
    source = await deployments.fresh("source")
    # As many uploads as the machine allows while the backup runs.
    source.settings["MEIMAGES_RATE_UPLOADS_PER_MINUTE"] = "0"
    server = serve(source, serving)
    backup = tmp_path / "backup"
    acknowledged: list[dict[str, Any]] = []
    deleted: set[str] = set()
    progress = asyncio.Condition()
    stopping = False
    counts = {"upload": 0, "swap": 0, "delete": 0}

    async def done(kind: str) -> None:
        counts[kind] += 1
        async with progress:
            progress.notify_all()

    async with httpx.AsyncClient(timeout=120) as http:
        client = server.graphql(http)
        for seed_index in range(6):
            acknowledged.append(await client.upload_image(jpeg(100 + seed_index), user=owner))
        swappable = [image["id"] for image in acknowledged[:3]]
        doomed = [image["id"] for image in acknowledged[3:]]

        async def uploads() -> None:
            index = 200
            while not stopping:
                index += 1
                image = await client.upload_image(png(index, (160, 120)), user=owner)
                acknowledged.append(image)
                await done("upload")

        async def swaps() -> None:
            turn = 0
            while not stopping:
                turn += 1
                target = swappable[turn % len(swappable)]
                await client.gql(SET_PRIMARY, {"id": target, "slot": "FACE_REF"}, user=owner)
                await done("swap")

        async def deletes() -> None:
            turn = 0
            while not stopping:
                turn += 1
                image = await client.upload_image(jpeg(5000 + turn), user=owner)
                doomed.append(image["id"])
                victim = doomed.pop(0)
                deleted.add(victim)
                await client.gql(DELETE, {"id": victim}, user=owner)
                await done("delete")

        workers = [asyncio.create_task(work()) for work in (uploads, swaps, deletes)]
        try:
            async with progress:
                await progress.wait_for(
                    lambda: all(n >= 1 for n in counts.values()) or any(w.done() for w in workers)
                )
            # Every upload acknowledged up to here must be in the backup.
            before = [image for image in acknowledged if image["id"] not in deleted]
            before = [image for image in before if image["id"] not in doomed]
            at_start = dict(counts)
            process = await source.start("backup", str(backup))
            # verify reads the live folder meanwhile: writes in flight are no damage.
            checking = await source.start("verify", "--skip-reads")
            (stdout, stderr), (checked, problems) = await asyncio.gather(
                process.communicate(), checking.communicate()
            )
        finally:
            stopping = True
            await asyncio.gather(*workers, return_exceptions=True)
        for worker in workers:
            if worker.exception() is not None:
                raise worker.exception()  # type: ignore[misc]
    assert process.returncode == 0, stderr.decode()
    assert checking.returncode == 0, (checked + problems).decode()
    assert "backup of" in stdout.decode()
    # The writers kept going while the backup ran.
    assert sum(counts.values()) > sum(at_start.values())

    target = await deployments.fresh("target")
    code, output = restore_into(target, backup, source)
    assert code == 0, output
    restored = serve(target, serving)
    async with httpx.AsyncClient(timeout=120) as http:
        client, original = restored.graphql(http), server.graphql(http)
        for image in before:
            found = (await client.gql(ME_IMAGE, {"id": image["id"]}, user=owner))["meImage"]
            assert found is not None, f"upload {image['id']} acknowledged before the backup is lost"
            assert found["mediaId"] == image["mediaId"]
            media = await http.get(media_url(client, found["publicUrl"]))
            assert media.status_code == 200
            # The very bytes the source serves for it (the source still runs).
            source = (await original.gql(ME_IMAGE, {"id": image["id"]}, user=owner))["meImage"]
            served = await http.get(media_url(original, source["publicUrl"]))
            assert hashlib.sha256(media.content).digest() == hashlib.sha256(served.content).digest()


async def test_a_backup_killed_half_way_is_never_complete(
    deployments: Deployments, serving: list[LiveServer], tmp_path: Path
) -> None:
    owner = "many"
    source = await deployments.fresh("source")
    server = serve(source, serving)
    async with httpx.AsyncClient(timeout=60) as http:
        client = server.graphql(http)
        for index in range(40):
            await client.upload_image(jpeg(300 + index, (200, 150)), user=owner)
    # Killed as soon as it has copied a first blob: the database copy is done by then,
    # the blobs are not.
    backup = tmp_path / "killed"
    process = await source.start("backup", str(backup))
    media = backup / MEDIA
    for _ in range(FIRST_BLOB_POLLS):
        if media.is_dir() and any(path.is_file() for path in media.rglob("*")):
            break
        if process.poll() is not None:
            break
        await asyncio.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    stdout, _stderr = await process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert "backup of" not in stdout.decode()
    assert not (backup / MANIFEST).exists()
    assert (backup / INCOMPLETE).exists()

    checked = source.run("verify", "--data-dir", str(backup), *master_key_args(source))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "did not finish" in checked.stdout + checked.stderr
    target = await deployments.fresh("target")
    code, output = restore_into(target, backup, source)
    assert code == 2 and "did not finish" in output, output
    assert not target.data_dir.exists() or not any(target.data_dir.iterdir())
