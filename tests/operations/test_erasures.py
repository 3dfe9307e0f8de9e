"""The erasure journal: what purges write, what a restore replays (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from resolvers.lifecycle.purge import purge_deleted_images, purge_owner
from resolvers.operations.restore import ERASURE_MARGIN, RestoreReport, replay_erasures
from storage.erasures import IMAGES, OWNER, Erasure, ErasureJournal
from storage.tables import utcnow
from testbed.images import jpeg, png
from tests.support.app import Api

DELETE = "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }"


def entries_of(journal: ErasureJournal, owner: str) -> list[Erasure]:
    return [entry for entry in journal.read() if entry.owner_id == owner]


async def test_every_purge_is_journaled_with_ids_and_times_only(api: Api, owner: str) -> None:
    journal = api.stores.erasures
    assert journal is not None and journal.exists()  # created empty when the server starts
    await api.upload_image(jpeg(1), user=owner)
    gone = await api.upload_image(png(2), user=owner)
    await api.gql(DELETE, {"id": gone["id"]}, user=owner)
    before = utcnow()
    await purge_deleted_images(api.stores, older_than=timedelta(0))
    await purge_deleted_images(api.stores, older_than=timedelta(0))  # nothing left: no entry
    [images] = entries_of(journal, owner)
    assert (images.erase, images.image_ids) == (IMAGES, (gone["id"],))
    assert images.at >= before
    await purge_owner(api.stores, owner)
    [_, whole] = entries_of(journal, owner)
    assert (whole.erase, whole.image_ids) == (OWNER, ())
    for line in journal.path.read_text().splitlines():
        assert set(json.loads(line)) <= {"at", "erase", "owner", "images"}
    assert journal.path.stat().st_mode & 0o777 == 0o600


async def test_a_replay_makes_again_only_the_erasures_since_the_backup(
    api: Api, owner: str, other_owner: str
) -> None:
    taken_at = utcnow()
    old = await api.upload_image(jpeg(3), user=other_owner)
    recent = await api.upload_image(jpeg(4), user=owner)
    stays = await api.upload_image(png(5), user=owner)
    erasures = [
        # Long before the backup: already in it, not made again (the owner came back).
        Erasure(taken_at - ERASURE_MARGIN - timedelta(hours=1), OWNER, other_owner),
        # Journaled just before the snapshot began, so it may have committed after it.
        Erasure(taken_at - ERASURE_MARGIN / 2, IMAGES, owner, (recent["id"],)),
        # An owner the backup never knew: nothing is created for them.
        Erasure(taken_at, OWNER, "never-seen"),
    ]
    report = RestoreReport()
    await replay_erasures(api.stores, erasures, taken_at, report)
    assert (report.erasures_replayed, report.images_erased, report.owners_erased) == (1, 1, 0)
    query = "query($id: ID!) { meImage(id: $id) { id } }"
    assert await api.gql(query, {"id": recent["id"]}, user=owner) == {"meImage": None}
    assert (await api.gql(query, {"id": stays["id"]}, user=owner))["meImage"] is not None
    assert (await api.gql(query, {"id": old["id"]}, user=other_owner))["meImage"] is not None
    async with api.stores.reading() as read:
        assert await read.owners.get("never-seen") is None
    # The replay itself journals nothing: its entries are in a journal already.
    assert journal_owners(api) & {owner, other_owner} == set()


def journal_owners(api: Api) -> set[str]:
    assert api.stores.erasures is not None
    return {entry.owner_id for entry in api.stores.erasures.read()}


def test_a_line_a_crash_cut_short_is_skipped(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "erasures.jsonl")
    first = Erasure(utcnow(), OWNER, "a")
    journal.path.write_bytes(first.to_line() + b'{"at": "2026-12-06T16:0')
    assert journal.read() == [first]
