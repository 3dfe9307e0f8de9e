"""The event log and its readers on both databases: commit order, pruning, fan-out cost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import delete, event, select, text, update
from sqlmodel import col

from resolvers.events import cursors, feed
from resolvers.media.signed_urls import MediaUrlSigner
from resolvers.stores import Caller, Stores
from schema import build_schema
from schema.context import RequestContext
from storage import migrate
from storage.blobs import LocalBlobStore
from storage.crypto import MasterKey, MasterKeyring
from storage.db import Database
from storage.eventlog import fanout, retention, snapshot
from storage.eventlog.listen import NotifyListener
from storage.eventlog.log import append_event, read_events
from storage.eventlog.payload import EventPayload, EventType
from storage.keys import FieldVault
from storage.repositories.owners import OwnerRepository
from storage.tables import MeImage, MeImageEvent, utcnow
from testbed.images import jpeg
from tests.events.conftest import new_owner
from tests.support.app import Api
from tests.support.databases import BACKENDS, database_of_its_own


class Follower:
    """An in-process subscription (the code path every transport runs), collecting events."""

    def __init__(self, stores: Stores, caller: Caller, after: str | None) -> None:
        self.events: list[feed.Event] = []
        self._changed = asyncio.Condition()
        self._stream = feed.follow(stores, caller, after)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for item in self._stream:
            async with self._changed:
                self.events.append(item)
                self._changed.notify_all()

    async def wait_for(self, count: int) -> list[feed.Event]:
        async with asyncio.timeout(60), self._changed:
            await self._changed.wait_for(lambda: len(self.events) >= count)
        return self.events

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def write(
    stores: Stores,
    owner: str,
    *,
    count: int = 1,
    lock: bool = True,
    inserted: asyncio.Event | None = None,
    release: asyncio.Event | None = None,
) -> list[int]:
    """One transaction appending `count` events, optionally held open before commit."""
    seqs: list[int] = []
    async with stores.db.transaction() as session:
        if lock:
            await OwnerRepository(session).lock(owner)
        for _ in range(count):
            row = await append_event(
                session,
                owner_id=owner,
                space_id="personal",
                type=EventType.ADDED,
                image_id=str(uuid.uuid4()),
                payload=EventPayload(kind="face"),
            )
            assert row.seq is not None
            seqs.append(row.seq)
        if inserted is not None:
            inserted.set()
        if release is not None:
            await release.wait()
    stores.notifier.notify(owner)
    return seqs


async def queued_writers(stores: Stores) -> int:
    """How many writers wait for a lock another transaction holds: on SQLite, this
    process's queue for the write lock; on PostgreSQL, sessions waiting on a lock."""
    if stores.db.is_sqlite:
        writers = stores.db._writers
        return len(getattr(writers, "_waiters", None) or ())
    async with stores.db.session() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return int(waiting or 0)


async def until_a_writer_waits(stores: Stores) -> None:
    """Returns once a writer is seen waiting for a lock (bounded by a count of looks)."""
    for _ in range(2000):
        if await queued_writers(stores):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no writer ever waited for the lock")


async def test_a_later_seq_committing_first_never_hides_an_earlier_one(api: Api) -> None:
    stores = api.stores
    first_owner, second_owner = new_owner("first"), new_owner("second")
    start = await cursors.head_cursor(stores, Caller(first_owner))
    follower = Follower(stores, Caller(first_owner), start)
    first_in, first_go = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(write(stores, first_owner, inserted=first_in, release=first_go))
    await asyncio.wait_for(first_in.wait(), 60)
    second_in = asyncio.Event()
    second = asyncio.create_task(write(stores, second_owner, inserted=second_in))
    if api.backend == "postgres":
        # The trap is real: the second transaction takes a higher seq and commits while
        # the first (lower seq) is still open, so a reader with one global cursor that
        # moved past the second event would never see the first.
        (second_seq,) = await asyncio.wait_for(asyncio.shield(second), 60)
        async with stores.db.session() as session:
            visible = await session.scalars(
                select(MeImageEvent.seq).where(
                    MeImageEvent.owner_id.in_([first_owner, second_owner])  # type: ignore[attr-defined]
                )
            )
            assert visible.all() == [second_seq]
    else:
        # SQLite takes its write lock before a seq is drawn: the second writer is seen
        # queued behind the first, without a seq.
        await until_a_writer_waits(stores)
        assert not second_in.is_set()
    # Nothing of the first owner is readable while its transaction is open.
    async with stores.db.session() as session:
        pending = await read_events(
            session, stores.vault, first_owner, "personal", cursors.decode_cursor(start)
        )
    assert pending == [] and follower.events == []
    first_go.set()
    (first_seq,) = await first
    (second_seq,) = await second
    assert first_seq < second_seq
    # The first owner's reader gets its event although a higher seq was visible earlier.
    (got,) = await follower.wait_for(1)
    assert got.seq == first_seq
    async with stores.db.session() as session:
        replayed = await read_events(
            session, stores.vault, first_owner, "personal", cursors.decode_cursor(start)
        )
    assert [r.seq for r in replayed] == [first_seq]
    await follower.stop()


async def test_one_owners_writers_queue_even_without_the_owner_row_lock(api: Api) -> None:
    """append_event serializes an owner's inserts by itself, whoever calls it."""
    stores = api.stores
    owner = new_owner()
    follower = Follower(stores, Caller(owner), await cursors.head_cursor(stores, Caller(owner)))
    held_in, held_go = asyncio.Event(), asyncio.Event()
    held = asyncio.create_task(write(stores, owner, count=2, inserted=held_in, release=held_go))
    await asyncio.wait_for(held_in.wait(), 60)
    late_in = asyncio.Event()
    late = asyncio.create_task(write(stores, owner, lock=False, inserted=late_in))
    # Seen waiting for the lock the held transaction keeps until it commits.
    await until_a_writer_waits(stores)
    assert not late_in.is_set(), "a second writer of the same owner got a seq before commit"
    held_go.set()
    early_seqs, late_seqs = await held, await late
    assert max(early_seqs) < min(late_seqs)
    got = await follower.wait_for(3)
    assert [e.seq for e in got] == early_seqs + late_seqs
    await follower.stop()


async def test_fan_out_reads_the_log_once_per_change_not_per_subscriber(api: Api) -> None:
    stores = api.stores
    owner = new_owner()
    start = await cursors.head_cursor(stores, Caller(owner))
    followers = [Follower(stores, Caller(owner), start) for _ in range(40)]
    await write(stores, owner)
    for follower in followers:
        await follower.wait_for(1)  # each has replayed up to here and is live now
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM me_image_event" in statement:
            reads.append(statement)

    sync_engine = stores.db.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        changes = 10
        for _ in range(changes):
            await write(stores, owner)
            await asyncio.sleep(0.01)
        for follower in followers:
            assert len(await follower.wait_for(1 + changes)) == 1 + changes
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
        for follower in followers:
            await follower.stop()
    # 40 subscribers, 10 commits: one read per wake-up (or fewer, batched), never 40.
    assert 1 <= len(reads) <= changes, reads
    # The last subscriber to leave closed the owner's feed.
    assert (owner, "personal") not in stores.notifier.open_feeds()


async def test_a_slow_subscriber_falls_back_to_the_log_and_misses_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = api.stores
    monkeypatch.setattr(fanout, "QUEUE_LIMIT", 5)
    owner = new_owner()
    start = await cursors.head_cursor(stores, Caller(owner))
    fast = Follower(stores, Caller(owner), start)
    slow_stream = feed.follow(stores, Caller(owner), start)
    first = await write(stores, owner)
    slow = [(await anext(slow_stream)).seq]
    assert slow == first
    # While the slow one sits on its first event, 40 more arrive: far past its queue.
    seqs = await write(stores, owner, count=20)
    seqs += await write(stores, owner, count=20)
    await fast.wait_for(41)
    async with asyncio.timeout(60):
        while len(slow) < 41:
            slow.append((await anext(slow_stream)).seq)
    await slow_stream.aclose()
    await fast.stop()
    assert slow == [e.seq for e in fast.events]
    assert slow[1:] == seqs and slow == sorted(set(slow))


async def test_events_show_each_changes_own_state_until_a_purge_forgets_it(api: Api) -> None:
    stores = api.stores
    owner = new_owner()
    caller = Caller(owner)
    start = await cursors.head_cursor(stores, caller)
    image = await api.upload(jpeg(70), user=owner, input={"label": "secret", "kind": "HANDS"})
    for enabled in (True, False):
        await api.gql(
            "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on) { __typename } }",
            {"id": image["id"], "on": enabled},
            user=owner,
        )
    replay = feed.follow(stores, caller, start)
    logged = [await anext(replay) for _ in range(3)]
    await replay.aclose()
    assert [e.image.ai_reference if e.image else None for e in logged] == [False, True, False]
    assert {e.image.encrypted.label if e.image else None for e in logged} == {"secret"}

    # A purge removes the row and forgets the logged states: the events remain, with
    # only what each event recorded itself.
    async with stores.db.transaction() as session:
        await snapshot.forget(session, [image["id"]])
        await session.execute(delete(MeImage).where(col(MeImage.id) == image["id"]))
    replay = feed.follow(stores, caller, start)
    forgotten = [await anext(replay) for _ in range(3)]
    await replay.aclose()
    assert [e.seq for e in forgotten] == [e.seq for e in logged]
    assert [e.image for e in forgotten] == [None, None, None]
    assert [e.kind.value if e.kind else None for e in forgotten] == ["hands", None, None]
    assert [e.enabled for e in forgotten] == [None, True, False]


@pytest_asyncio.fixture(params=BACKENDS)
async def own_log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    """A database of its own: pruning moves a horizon every reader of that log shares."""
    async with database_of_its_own(request.param, tmp_path, "meimages_events") as db:
        await migrate.upgrade(db)
        yield Stores(
            db=db,
            vault=FieldVault(MasterKeyring([MasterKey.generate()])),
            blobs=LocalBlobStore(tmp_path / "blobs"),
        )


async def test_pruning_keeps_the_newest_event_and_old_cursors_get_a_typed_error(
    own_log: Stores,
) -> None:
    stores = own_log
    owner = new_owner()
    seqs = await write(stores, owner, count=5)
    async with stores.db.transaction() as session:
        await session.execute(
            update(MeImageEvent)
            .where(MeImageEvent.owner_id == owner)  # type: ignore[arg-type]
            .values(created_at=utcnow() - timedelta(days=40))
        )
    assert await retention.prune_events(stores.db, utcnow() - timedelta(days=30)) == 4
    async with stores.db.session() as session:
        assert await retention.pruned_through(session) == seqs[3]
        left = await read_events(session, stores.vault, owner, "personal", 0)
    # The newest stays, so SQLite cannot hand out its number again.
    assert [r.seq for r in left] == [seqs[4]]
    # Pruning again finds nothing more to do and never lowers the horizon.
    assert await retention.prune_events(stores.db, utcnow() - timedelta(days=30)) == 0

    with pytest.raises(cursors.CursorTooOld):
        await anext(feed.follow(stores, Caller(owner), cursors.encode_cursor(seqs[2])))
    resumed = feed.follow(stores, Caller(owner), cursors.encode_cursor(seqs[3]))
    assert (await anext(resumed)).seq == seqs[4]
    await resumed.aclose()

    # Through the schema, the same cases are typed results that end the subscription.
    schema = build_schema()
    context = RequestContext(
        stores=stores, urls=MediaUrlSigner(b"k" * 32, ttl_s=60, prefix=""), caller=Caller(owner)
    )
    query = "subscription($after: String) { meImageEvents(after: $after) { __typename ... on Error { code message } } }"
    for after, typename, code in (
        (cursors.encode_cursor(seqs[0]), "CursorTooOldError", "CURSOR_TOO_OLD"),
        ("not-a-cursor", "InvalidInputError", "INVALID_INPUT"),
    ):
        stream = await schema.subscribe(
            query, variable_values={"after": after}, context_value=context
        )
        results = [result async for result in stream]  # type: ignore[union-attr]
        assert len(results) == 1 and results[0].errors is None
        assert results[0].data == {
            "meImageEvents": {
                "__typename": typename,
                "code": code,
                "message": results[0].data["meImageEvents"]["message"],
            }
        }


async def test_notify_listener_wakes_readers_across_connections(own_log: Stores) -> None:
    """PostgreSQL only: a NOTIFY from another connection's commit wakes this process."""
    stores = own_log
    if stores.db.is_sqlite:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    listener = NotifyListener(stores.db.url, stores.notifier)
    await listener.start()
    try:
        owner = new_owner()
        follower = Follower(stores, Caller(owner), await cursors.head_cursor(stores, Caller(owner)))
        # Live first: an event written here (our own notifier wakes it) has been read, so
        # the next one can only arrive by a wake-up, not by the subscription's replay.
        await write(stores, owner)
        await follower.wait_for(1)
        # A writer on a separate engine that never calls our notifier: only NOTIFY tells us.
        other = Database(stores.db.url)
        try:
            async with other.transaction() as session:
                await session.execute(text("SELECT 1"))
                await append_event(
                    session,
                    owner_id=owner,
                    space_id="personal",
                    type=EventType.ADDED,
                    image_id=str(uuid.uuid4()),
                    payload=EventPayload(kind="hands"),
                )
        finally:
            await other.dispose()
        _live, got = await follower.wait_for(2)
        assert got.kind is not None and got.kind.value == "hands"
        await follower.stop()
    finally:
        await listener.stop()


async def test_fan_out_decrypts_each_event_once_not_per_subscriber(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = api.stores
    owner = new_owner()
    image = await api.upload(jpeg(77), user=owner, input={"label": "one", "tags": ["a"]})
    rename = "mutation($id: ID!, $l: String) { updateMeImage(id: $id, input: {label: $l}) { __typename } }"
    start = await cursors.head_cursor(stores, Caller(owner))
    followers = [Follower(stores, Caller(owner), start) for _ in range(20)]
    await api.gql(rename, {"id": image["id"], "l": "take 0"}, user=owner)
    for follower in followers:
        await follower.wait_for(1)  # each has replayed up to here and is live now
    decrypts: list[str] = []
    decrypt = stores.vault.decrypt

    async def counted(session: Any, **kw: Any) -> object:
        decrypts.append(kw["field"])
        return await decrypt(session, **kw)

    monkeypatch.setattr(stores.vault, "decrypt", counted)
    changes = 5
    try:
        for n in range(1, 1 + changes):
            await api.gql(rename, {"id": image["id"], "l": f"take {n}"}, user=owner)
        for follower in followers:
            got = await follower.wait_for(1 + changes)
            assert [e.image.encrypted.label for e in got if e.image] == [
                f"take {n}" for n in range(1 + changes)
            ]
    finally:
        for follower in followers:
            await follower.stop()
    # Per change, label and tags are decrypted by the mutation's answer and once more for
    # all 20 subscribers together: 4, where decoding per subscriber would take 42.
    assert len(decrypts) <= 4 * changes, decrypts
