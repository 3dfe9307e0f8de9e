"""The event log of pool changes, and how its readers are woken and fed.

The table `me_image_event` is the source of truth. A wake-up only says "read from your
cursor": in-process right after a commit (`EventNotifier.notify`), and across instances
through PostgreSQL NOTIFY, sent inside the writing transaction so it is delivered exactly
when the event becomes visible (`NotifyListener` turns it back into a local wake-up).

The ordering trap. PostgreSQL hands out `seq` when a row is inserted, not when it
commits, so a transaction can commit a higher seq while a lower one is still in flight.
A reader that advanced a cursor past the higher seq would never see the lower one.
We defeat it per owner: every reader reads one owner's log (owner + space) with a
per-owner cursor, and every insert into one owner's log is serialized by a lock held
until commit (the resolvers' owner-row lock, and `append_event`'s own advisory lock so
the rule holds for any writer). Under that lock a transaction takes its seq only after
the owner's previous writer committed, and the sequence only grows (CACHE 1, the
default), so within one owner's log seq order is commit order: whenever a reader sees
seq n, every lower seq of that owner is already visible. Other owners' transactions may
commit out of order, but no reader's cursor ever moves over their rows. SQLite takes the
database write lock (BEGIN IMMEDIATE) before the insert, so it never reorders at all.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from sqlalchemy import Select, case, delete, func, null, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.db import Database
from storage.tables import (
    EventLogHorizon,
    MediaObject,
    MediaRef,
    MeImage,
    MeImageEvent,
    Owner,
    utcnow,
)

log = logging.getLogger("meimages.events")

# The NOTIFY channel; the payload is the owner id (ids are at most 200 chars, far
# below NOTIFY's 8000-byte limit).
CHANNEL = "meimages_events"
# First key of the per-owner advisory lock (two-int form), apart from other users'.
_EVENT_LOCK_CLASS = 0x6D65
# Replay and catch-up read the log in pages of this many events.
PAGE = 500
# Events a subscription may have waiting before it falls back to reading the log itself.
QUEUE_LIMIT = 1000


# -- Writing -------------------------------------------------------------------------


async def append_event(
    session: AsyncSession,
    *,
    owner_id: str,
    space_id: str,
    type: str,
    image_id: str,
    payload: dict[str, Any] | None = None,
) -> MeImageEvent:
    """Write an event in the caller's transaction, so it commits with the change or not at all."""
    postgres = _dialect(session) == "postgresql"
    if postgres:
        # Serialize this owner's event inserts until commit (see the module docstring).
        # Callers already hold the owner row lock, so this never waits in practice.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, hashtext(:owner))"),
            {"cls": _EVENT_LOCK_CLASS, "owner": owner_id},
        )
    snapshot = (await image_snapshots(session, [image_id], live_only=True)).get(image_id)
    row = MeImageEvent(
        owner_id=owner_id,
        space_id=space_id,
        type=type,
        image_id=image_id,
        payload=payload or {},
        created_at=utcnow(),
        image=snapshot,
    )
    session.add(row)
    await session.flush()
    if postgres:
        # Delivered at commit, never for a rolled-back change; repeats within one
        # transaction are folded into one by PostgreSQL.
        await session.execute(
            text("SELECT pg_notify(:channel, :owner)"), {"channel": CHANNEL, "owner": owner_id}
        )
    return row


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we write is UTC.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _b64(blob: bytes | None) -> str | None:
    return base64.b64encode(blob).decode() if blob is not None else None


def snapshot_bytes(value: str | None) -> bytes | None:
    """Decode a ciphertext field of a snapshot."""
    return base64.b64decode(value) if value is not None else None


async def image_snapshots(
    session: AsyncSession, image_ids: Collection[str], *, live_only: bool
) -> dict[str, dict[str, Any]]:
    """The stored state of images with their media, as JSON; label and tags stay encrypted."""
    if not image_ids:
        return {}
    conditions = [col(MeImage.id).in_(list(image_ids))]
    if live_only:
        conditions.append(col(MeImage.deleted_at).is_(None))
    query: Select[*tuple[Any, ...]] = (
        select(
            col(MeImage.id),
            col(MeImage.kind),
            col(MeImage.label_ct),
            col(MeImage.tags_ct),
            col(MeImage.ai_reference),
            col(MeImage.show_in_profile),
            col(MeImage.primary_for),
            col(MeImage.created_at),
            col(MeImage.updated_at),
            col(MediaRef.id).label("media_id"),
            col(MediaRef.created_at).label("media_created_at"),
            col(MediaObject.id).label("object_id"),
            col(MediaObject.sha256),
            col(MediaObject.medium_path),
            col(MediaObject.content_type),
            col(MediaObject.byte_size),
            col(MediaObject.width),
            col(MediaObject.height),
            col(MediaObject.storage_path),
            col(MediaObject.thumbnail_path),
        )
        .join(MediaRef, col(MediaRef.id) == col(MeImage.media_ref_id))
        .join(MediaObject, col(MediaObject.id) == col(MediaRef.media_object_id))
        .where(*conditions)
    )
    snapshots: dict[str, dict[str, Any]] = {}
    for r in (await session.execute(query)).all():
        snapshots[r.id] = {
            "kind": r.kind,
            "label_ct": _b64(r.label_ct),
            "tags_ct": _b64(r.tags_ct),
            "ai_reference": r.ai_reference,
            "show_in_profile": r.show_in_profile,
            "primary_for": r.primary_for,
            "created_at": aware(r.created_at).isoformat(),
            "updated_at": aware(r.updated_at).isoformat(),
            "media": {
                "id": r.media_id,
                "content_type": r.content_type,
                "byte_size": r.byte_size,
                "width": r.width,
                "height": r.height,
                "storage_path": r.storage_path,
                "thumbnail_path": r.thumbnail_path,
                "medium_path": r.medium_path,
                "object_id": r.object_id,
                "sha256": r.sha256,
                "created_at": aware(r.media_created_at).isoformat(),
            },
        }
    return snapshots


async def forget_snapshots(session: AsyncSession, image_ids: Collection[str]) -> None:
    """Drop the logged states of purged images (their label and tags ciphertext among
    them); their events stay, showing only what the event itself recorded."""
    if image_ids:
        await session.execute(
            update(MeImageEvent)
            .where(col(MeImageEvent.image_id).in_(list(image_ids)))
            .values(image=null())
        )


# -- Reading -------------------------------------------------------------------------


async def read_events(
    session: AsyncSession, owner_id: str, space_id: str, after: int, limit: int = PAGE
) -> list[MeImageEvent]:
    """One owner's events in one space with seq > after, oldest first."""
    rows = await session.execute(
        select(MeImageEvent)
        .where(
            col(MeImageEvent.owner_id) == owner_id,
            col(MeImageEvent.space_id) == space_id,
            col(MeImageEvent.seq) > after,
        )
        .order_by(col(MeImageEvent.seq))
        .limit(limit)
    )
    return list(rows.scalars().all())


async def head_seq(session: AsyncSession, owner_id: str, space_id: str) -> int:
    """The seq of the newest event in one owner's space (0 when there is none)."""
    value = await session.scalar(
        select(func.max(col(MeImageEvent.seq))).where(
            col(MeImageEvent.owner_id) == owner_id,
            col(MeImageEvent.space_id) == space_id,
        )
    )
    return int(value or 0)


async def pruned_through(session: AsyncSession) -> int:
    """Every event with seq at or below this is gone from the log."""
    value = await session.scalar(
        select(col(EventLogHorizon.pruned_through)).where(col(EventLogHorizon.id) == 1)
    )
    return int(value or 0)


class EventsPruned(Exception):
    """A reader's cursor lies below the retention horizon: events after it may be gone."""

    def __init__(self, cursor: int, horizon: int) -> None:
        super().__init__(f"events after {cursor} were pruned up to {horizon}")
        self.cursor = cursor
        self.horizon = horizon


async def prune_events(db: Database, older_than: datetime) -> int:
    """Delete events created before `older_than` and raise the horizon; returns the count."""
    async with db.transaction() as session:
        newest = await session.scalar(select(func.max(col(MeImageEvent.seq))))
        if newest is None:
            return 0
        # The newest event always stays: SQLite numbers a new row max(seq) + 1, so an
        # empty table would hand out old numbers again and cursors would skip them.
        horizon = await session.scalar(
            select(func.max(col(MeImageEvent.seq))).where(
                col(MeImageEvent.created_at) < older_than,
                col(MeImageEvent.seq) < newest,
            )
        )
        if horizon is None:
            return 0
        # Raise the horizon before rows disappear, in the same transaction.
        await session.execute(
            update(EventLogHorizon)
            .where(col(EventLogHorizon.id) == 1)
            .values(
                pruned_through=case(
                    (col(EventLogHorizon.pruned_through) < horizon, horizon),
                    else_=col(EventLogHorizon.pruned_through),
                )
            )
        )
        result = await session.execute(delete(MeImageEvent).where(col(MeImageEvent.seq) <= horizon))
        # A new horizon changes what `meImageEventCursor` answers for quiet owners, so
        # every cached answer keyed on an owner's data version must be refreshed.
        await session.execute(update(Owner).values(data_version=col(Owner.data_version) + 1))
        return int(getattr(result, "rowcount", 0) or 0)


# -- Waking and fan-out --------------------------------------------------------------


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


T = TypeVar("T", bound=Sequenced)
# Turns a page of log rows into what subscribers receive, one item per row, in order.
Decode = Callable[[AsyncSession, Sequence[MeImageEvent]], Awaitable[Sequence[T]]]

# Put in a subscription's queue in place of events it was too slow to take.
_OVERFLOW: Any = object()


class _Subscription(Generic[T]):
    """A subscription's mailbox. Lighter than an asyncio.Queue (which holds four deques
    for life): an idle subscription keeps only the future it waits on."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[T] | None = None
        self.waiter: asyncio.Future[None] | None = None

    def offer(self, item: T) -> None:
        if self.items is None:
            self.items = deque()
        if len(self.items) >= QUEUE_LIMIT:
            # Never hold up the shared reader for one slow consumer: drop what is waiting
            # and let this subscription re-read the log from its own cursor.
            self.items.clear()
            item = _OVERFLOW
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def take(self) -> T:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        item = self.items.popleft()
        if not self.items:
            self.items = None
        return item


class LogFeed(Generic[T]):
    """One reader of one owner's log in one space, shared by every subscription to it
    in this process: per wake-up one query and one decode, however many subscribers."""

    def __init__(
        self,
        db: Database,
        notifier: EventNotifier,
        owner_id: str,
        space_id: str,
        decode: Decode[T],
    ) -> None:
        self.db = db
        self.notifier = notifier
        self.owner_id = owner_id
        self.space_id = space_id
        self.decode = decode
        self.position = 0
        self.subscriptions: set[_Subscription[T]] = set()
        self._wake = notifier.subscribe(owner_id)
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name=f"event-feed:{owner_id}")

    async def ready(self) -> None:
        await asyncio.shield(self._ready)

    async def _run(self) -> None:
        try:
            async with self.db.session() as session:
                self.position = await head_seq(session, self.owner_id, self.space_id)
        except Exception as exc:
            self._ready.set_exception(exc)
            self.close()
            return
        self._ready.set_result(None)
        backoff = 0.05
        while True:
            await self._wake.wait()
            # Cleared before reading: a commit during the read sets it again.
            self._wake.clear()
            try:
                await self._catch_up()
                backoff = 0.05
            except Exception:
                log.exception("reading the event log of %s failed; retrying", self.owner_id)
                self._wake.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _catch_up(self) -> None:
        while True:
            async with self.db.session() as session:
                rows = await read_events(session, self.owner_id, self.space_id, self.position)
                items = await self.decode(session, rows) if rows else []
            for item in items:
                self.position = item.seq
                for subscription in self.subscriptions:
                    subscription.offer(item)
            if len(rows) < PAGE:
                return

    def close(self) -> None:
        self.notifier.unsubscribe(self.owner_id, self._wake)
        self.notifier.drop_feed(self)
        if not self._ready.done():
            # Only reached when the last subscription left, so nobody waits on it.
            self._ready.cancel()
        if asyncio.current_task() is not self._task:
            self._task.cancel()


class EventNotifier:
    """Wakes readers of an owner's log after a commit, and shares one reader per owner
    log among this process's subscriptions. The log stays the source of truth."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._feeds: dict[tuple[str, str], LogFeed[Any]] = {}

    def subscribe(self, owner_id: str) -> asyncio.Event:
        wake = asyncio.Event()
        self._waiters[owner_id].add(wake)
        return wake

    def unsubscribe(self, owner_id: str, wake: asyncio.Event) -> None:
        waiters = self._waiters.get(owner_id)
        if waiters is not None:
            waiters.discard(wake)
            if not waiters:
                del self._waiters[owner_id]

    def notify(self, owner_id: str) -> None:
        for wake in self._waiters.get(owner_id, ()):
            wake.set()

    def notify_all(self) -> None:
        """Wake every reader, e.g. after a gap in cross-instance notifications."""
        for waiters in self._waiters.values():
            for wake in waiters:
                wake.set()

    def open_feeds(self) -> set[tuple[str, str]]:
        """(owner, space) of every log this process is reading for subscribers."""
        return set(self._feeds)

    def drop_feed(self, feed: LogFeed[Any]) -> None:
        key = (feed.owner_id, feed.space_id)
        if self._feeds.get(key) is feed:
            del self._feeds[key]

    async def follow(
        self,
        db: Database,
        owner_id: str,
        space_id: str,
        after: int | None,
        decode: Decode[T],
    ) -> AsyncGenerator[T, None]:
        """Every event of one owner's space after `after` (or from now, if None), oldest
        first, each once: a replay from the log, then live ones from the shared feed.

        Raises EventsPruned when events after the cursor are no longer in the log.
        """
        key = (owner_id, space_id)
        feed: LogFeed[T] | None = self._feeds.get(key)
        if feed is None:
            feed = LogFeed(db, self, owner_id, space_id, decode)
            self._feeds[key] = feed
        subscription: _Subscription[T] = _Subscription()
        # Join the feed before reading anything: whatever the feed reads from now on
        # reaches our queue, and the replay below starts later, so it overlaps the
        # queue instead of leaving a gap. The overlap is dropped by seq.
        feed.subscriptions.add(subscription)
        try:
            await feed.ready()
            last = feed.position if after is None else after
            replaying = after is not None
            while True:
                if replaying:
                    items, complete = await _replay_page(db, owner_id, space_id, last, decode)
                    for item in items:
                        yield item
                        last = item.seq
                    replaying = not complete
                    continue
                item = await subscription.take()
                if item is _OVERFLOW:
                    replaying = True
                elif item.seq > last:
                    yield item
                    last = item.seq
        finally:
            feed.subscriptions.discard(subscription)
            if not feed.subscriptions:
                feed.close()


async def _replay_page(
    db: Database, owner_id: str, space_id: str, after: int, decode: Decode[T]
) -> tuple[Sequence[T], bool]:
    async with db.session() as session:
        rows = await read_events(session, owner_id, space_id, after)
        # Checked after the read: if the horizon is still at or below the cursor now,
        # nothing after the cursor was pruned when the rows were read.
        horizon = await pruned_through(session)
        if after < horizon:
            raise EventsPruned(after, horizon)
        items = await decode(session, rows) if rows else []
    return items, len(rows) < PAGE


# -- Background work of one instance -------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    """The plain libpq-style DSN asyncpg takes, from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class NotifyListener:
    """One PostgreSQL LISTEN connection per process that turns other instances'
    NOTIFYs (and our own) into local wake-ups."""

    def __init__(self, url: str, notifier: EventNotifier, *, health_interval: float = 30.0):
        self._dsn = asyncpg_dsn(url)
        self._notifier = notifier
        self._health_interval = health_interval
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self, wait: float = 10.0) -> None:
        self._task = asyncio.create_task(self._run(), name="event-notify-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), wait)
        if not self.listening.is_set():
            log.warning("not yet listening for events of other instances; retrying")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._notifier.notify(payload)

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                self.listening.set()
                backoff = 0.2
                # Anything committed while we were not listening would otherwise wait
                # for that owner's next change.
                self._notifier.notify_all()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._health_interval)
                    if not lost.is_set():
                        # A silent network failure shows up here, not as a termination.
                        await conn.fetchval("SELECT 1", timeout=10)
                raise ConnectionError("the LISTEN connection was closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning("event LISTEN connection failed (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 5)


class RetentionSweeper:
    """Prunes events older than the retention period, now and then."""

    def __init__(self, db: Database, retention: timedelta, *, every: float = 3600.0) -> None:
        self._db = db
        self._retention = retention
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                count = await prune_events(self._db, utcnow() - self._retention)
                if count:
                    log.info("pruned %d events older than %s", count, self._retention)
            except Exception:
                log.exception("pruning the event log failed")
            await asyncio.sleep(self._every)
