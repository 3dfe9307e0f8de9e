"""Feeding subscribers: one reader per owner log in this process, shared by all of its
subscriptions, so reading and decoding an event (its snapshot decrypted included) is
done once per process, however many subscribers receive it. Every subscriber is handed
the same `LoggedEvent` object for one event, a replay of a recent one included, so what
the floors above derive from it is made once too (see `forms`)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict, deque
from collections.abc import AsyncGenerator
from typing import Any

from storage.db import Database
from storage.eventlog.log import PAGE, LoggedEvent, head_seq, read_events
from storage.eventlog.retention import EventsPruned, pruned_through
from storage.keys import FieldVault

log = logging.getLogger("meimages.events")

# Events a subscription may have waiting before it falls back to reading the log itself.
QUEUE_LIMIT = 1000

# Events a feed keeps after its subscribers took them, so that a replay moments later
# hands out the same object (and its forms); older ones are shared while anyone holds them.
RECENT_EVENTS = 8

# Put in a subscription's queue in place of events it was too slow to take.
_OVERFLOW: Any = object()


class DeadlineReached(Exception):
    """A stream followed `until` a deadline reached it; no event is handed out after it."""


def _check(until: float | None) -> None:
    if until is not None and asyncio.get_running_loop().time() >= until:
        raise DeadlineReached()


def _lapse(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(DeadlineReached())


class _Subscription:
    """A subscription's mailbox. Lighter than an asyncio.Queue (which holds four deques
    for life): an idle subscription keeps only the future it waits on."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[LoggedEvent] | None = None
        self.waiter: asyncio.Future[None] | None = None

    def offer(self, item: LoggedEvent) -> None:
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

    async def take(self, until: float | None) -> LoggedEvent:
        """The next event; raises DeadlineReached if none came by `until` (loop time)."""
        loop = asyncio.get_running_loop()
        while not self.items:
            waiter = self.waiter = loop.create_future()
            # One timer handle, not an asyncio.timeout: what an idle subscription holds.
            timer = None if until is None else loop.call_at(until, _lapse, waiter)
            try:
                await waiter
            finally:
                self.waiter = None
                if timer is not None:
                    timer.cancel()
        item = self.items.popleft()
        if not self.items:
            self.items = None
        return item


class LogFeed:
    """One reader of one owner's log in one space, shared by every subscription to it
    in this process: per wake-up one query and one decode, however many subscribers."""

    def __init__(
        self,
        db: Database,
        vault: FieldVault,
        notifier: EventNotifier,
        owner_id: str,
        space_id: str,
    ) -> None:
        self.db = db
        self.vault = vault
        self.notifier = notifier
        self.owner_id = owner_id
        self.space_id = space_id
        self.position = 0
        self.subscriptions: set[_Subscription] = set()
        self._known: weakref.WeakValueDictionary[int, LoggedEvent] = weakref.WeakValueDictionary()
        self._recent: deque[LoggedEvent] = deque(maxlen=RECENT_EVENTS)
        self._wake = notifier.subscribe(owner_id)
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name=f"event-feed:{owner_id}")

    async def ready(self) -> None:
        await asyncio.shield(self._ready)

    def shared(self, item: LoggedEvent) -> LoggedEvent:
        """The one object this feed hands out for `item`'s event: the one read before
        (live or by another replay) if it is still held or recent, else `item`."""
        known = self._known.get(item.seq)
        if known is not None:
            return known
        self._known[item.seq] = item
        self._recent.append(item)
        return item

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
                items = await read_events(
                    session, self.vault, self.owner_id, self.space_id, self.position
                )
            for item in map(self.shared, items):
                self.position = item.seq
                for subscription in self.subscriptions:
                    subscription.offer(item)
            if len(items) < PAGE:
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
        self._feeds: dict[tuple[str, str], LogFeed] = {}

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

    def drop_feed(self, feed: LogFeed) -> None:
        key = (feed.owner_id, feed.space_id)
        if self._feeds.get(key) is feed:
            del self._feeds[key]

    async def position(self, db: Database, owner_id: str, space_id: str) -> int:
        """Where "now" is for a new follower of one owner's log without a cursor: the
        position of the feed reading it (what `follow` starts from), or the log's head
        when no feed reads it yet (where a new feed would start)."""
        feed = self._feeds.get((owner_id, space_id))
        if feed is not None:
            await feed.ready()
            return feed.position
        async with db.session() as session:
            return await head_seq(session, owner_id, space_id)

    async def follow(
        self,
        db: Database,
        vault: FieldVault,
        owner_id: str,
        space_id: str,
        after: int | None,
        until: float | None = None,
    ) -> AsyncGenerator[LoggedEvent, None]:
        """Every event of one owner's space after `after` (or from now, if None), oldest
        first, each once: a replay from the log, then live ones from the shared feed.

        Raises EventsPruned when events after the cursor are no longer in the log, and
        DeadlineReached at `until` (the event loop's clock), if given.
        """
        key = (owner_id, space_id)
        feed = self._feeds.get(key)
        if feed is None:
            feed = LogFeed(db, vault, self, owner_id, space_id)
            self._feeds[key] = feed
        subscription = _Subscription()
        # Join the feed before reading anything: whatever the feed reads from now on
        # reaches our queue, and the replay below starts later, so it overlaps the
        # queue instead of leaving a gap. The overlap is dropped by seq.
        feed.subscriptions.add(subscription)
        try:
            await feed.ready()
            last = feed.position if after is None else after
            replaying = after is not None
            while True:
                _check(until)
                if replaying:
                    items, complete = await _replay_page(db, vault, owner_id, space_id, last)
                    for item in map(feed.shared, items):
                        _check(until)
                        yield item
                        last = item.seq
                    replaying = not complete
                    continue
                item = await subscription.take(until)
                if item is _OVERFLOW:
                    replaying = True
                elif item.seq > last:
                    _check(until)
                    yield item
                    last = item.seq
        finally:
            feed.subscriptions.discard(subscription)
            if not feed.subscriptions:
                feed.close()


async def _replay_page(
    db: Database, vault: FieldVault, owner_id: str, space_id: str, after: int
) -> tuple[list[LoggedEvent], bool]:
    async with db.session() as session:
        items = await read_events(session, vault, owner_id, space_id, after)
        # Checked after the read: if the horizon is still at or below the cursor now,
        # nothing after the cursor was pruned when the rows were read.
        horizon = await pruned_through(session)
        if after < horizon:
            raise EventsPruned(after, horizon)
    return items, len(items) < PAGE
