"""Live events delivered by one loop per document, variables and caller, not by one
operation per subscriber.

A door may hand a subscription over (`Handoff`, the operation's root value): the
operation is admitted as every other (parsing, validation, limits, the caller's checks
and the field's own), and when `meImageEvents` starts it hands its subscriber to the
`EventGroup` of its document, variables and caller instead of keeping an operation open
for it. The group's one task follows the owner's events, executes each once and queues
the result for every member on its connection's `Sink`. A member keeps its cursor, its
token's end and its place in the socket's queue, nothing more.

Each member has `last`, the seq of the last event it was given; the group gives an
event only to the members it is newer for. A member whose cursor is behind the group
follows the log on its own (the stream every subscription has, replay included) until
it reaches the group, then joins it; so does a member whose socket fell `QUEUE_LIMIT`
frames behind, as the feed's mailbox falls back to the log for a slow subscriber. Its
token's end, its errors and its `complete` stay its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Hashable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    execute_subscription_event,
    visit,
)
from strawberry import Schema
from strawberry.extensions import MaskErrors

from resolvers import errors as domain
from resolvers.events import feed
from resolvers.events.cursors import encode_cursor
from resolvers.stores import Caller, Stores
from schema.context import RequestContext
from schema.error_map import member_of
from schema.events.types import MeImageEventResult, event_of
from schema.strawberry_compat import report_errors

log = logging.getLogger("meimages.events")

# Frames a member may have waiting on its socket before it falls back to the log
# (the feed's mailbox holds as many events for a subscription).
QUEUE_LIMIT = feed.QUEUE_LIMIT

# Operations admitting subscribers at once (see `EventGroups.admissions`).
ADMITTING = 16

Payload = Mapping[str, object]


class Watch(Protocol):
    """What observes one subscription (the door's metrics)."""

    def delivered(self) -> None: ...

    def ended(self) -> None: ...


class Sink(Protocol):
    """A connection's outgoing frames, written in the order they are queued."""

    def push(self, member: Member, seq: int, payload: Payload | None) -> None:
        """Queue a `next` frame of `payload` for `member` (None: its `complete`); the
        member's `queued` counts its frames not yet written, `handed` is set to the seq
        of each frame as it is written."""

    def purge(self, member: Member) -> None:
        """Drop the member's queued frames."""

    async def settle(self, member: Member) -> None:
        """Until no frame of the member is being written."""

    async def send(self, member: Member, payload: Payload) -> None:
        """Write a `next` frame for the member now; returns once written."""


def expired(context: RequestContext) -> domain.TokenExpired:
    """The error that ends a stream when the caller's token ends."""
    return domain.TokenExpired(datetime.fromtimestamp(context.token_expires_at() or 0, UTC))


class Member:
    """One subscriber of a group: an operation id on a connection."""

    __slots__ = (
        "closed",
        "context",
        "group",
        "handed",
        "head",
        "id",
        "last",
        "queued",
        "sink",
        "solo",
        "timer",
        "until",
        "watch",
    )

    def __init__(
        self, id: str, sink: Sink, context: RequestContext, group: EventGroup, until: float | None
    ) -> None:
        self.id = id
        self.sink = sink
        self.context = context
        self.group = group
        self.until = until
        self.last = 0
        self.handed = 0
        self.queued = 0
        self.closed = False
        # The door's own: the encoded start of this member's frames.
        self.head: str | None = None
        self.solo: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.watch: Watch | None = None

    # The group's side.

    def offer(self, seq: int, payload: Payload) -> None:
        """An event the group executed, given to this member unless it had it."""
        if seq <= self.last:
            return
        if self.until is not None and asyncio.get_running_loop().time() >= self.until:
            self._expire()
            return
        if self.queued >= QUEUE_LIMIT:
            # Never hold up the group for one slow socket: drop what waits and read the
            # log from what the socket took.
            self.group.members.pop(self, None)
            self.sink.purge(self)
            self.last = self.handed
            self._go_solo()
            return
        self.sink.push(self, seq, payload)
        self.last = seq

    def _go_solo(self) -> None:
        self.group.solo += 1
        self.solo = asyncio.create_task(self._catch_up(), name=f"event-member:{self.id}")

    async def _catch_up(self) -> None:
        """Follow the log from `last` on its own until the group is reached."""
        group = self.group
        stream = feed.follow(group.stores, group.caller, encode_cursor(self.last), self.until)
        ending: Any = None
        try:
            await self.sink.settle(self)
            async for event in stream:
                payload = await group.execute(event_of(event))
                await self.sink.send(self, payload)
                self.last = event.seq
                if self._rejoin():
                    return
        except feed.DeadlineReached:
            ending = member_of(MeImageEventResult, expired(self.context))
        except domain.DomainError as error:
            ending = member_of(MeImageEventResult, error)
        except Exception as exc:
            log.exception("following events for a subscription failed")
            ending = internal_error(exc)
        finally:
            await stream.aclose()
        if ending is not None:
            await self._end(ending)

    def _rejoin(self) -> bool:
        """Join the group when this member has all the group gave; True if it did."""
        group = self.group
        if group.closed:
            fresh = group.groups.group_for(group.key, group.executor, group.schema, self.last)
            group.solo -= 1
            fresh.solo += 1
            self.group = group = fresh
        if self.last < group.last:
            return False
        group.solo -= 1
        self.solo = None
        group.admit(self, self.last)
        return True

    def _on_deadline(self) -> None:
        self.timer = None
        if self.solo is None and not self.closed:
            self._expire()
        # A member on its own: its stream ends itself at the deadline.

    def _expire(self) -> None:
        self.group.members.pop(self, None)
        self.group.solo += 1  # keeps the group (and its executor) until the end is sent
        task = asyncio.create_task(self._end(member_of(MeImageEventResult, expired(self.context))))
        self.solo = task

    async def _end(self, value: object) -> None:
        """The member's last result, then its `complete`."""
        if self.closed:
            return
        try:
            payload = await self.group.execute(value)
        except Exception as exc:
            log.exception("executing the last result of a subscription failed")
            payload = self.group.payload(internal_error(exc))
        if self.closed:
            return
        self.sink.push(self, self.last, payload)
        self.sink.push(self, self.last, None)
        self._release()

    # The door's side.

    def close(self) -> None:
        """The subscriber left (`complete`, or its connection closed)."""
        if self.closed:
            return
        solo = self.solo
        self._release()
        self.sink.purge(self)
        if solo is not None and solo is not asyncio.current_task():
            solo.cancel()

    def _release(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        group = self.group
        if group.members.pop(self, None) is None and self.solo is not None:
            group.solo -= 1
        self.solo = None
        group.release()
        if self.watch is not None:
            self.watch.ended()
            self.watch = None


def internal_error(exc: Exception) -> ExecutionResult:
    return ExecutionResult(None, [GraphQLError(str(exc), original_error=exc)])


class EventGroup:
    """The subscribers of one document, variables and caller in this process, fed by
    one task (see module)."""

    def __init__(
        self, groups: EventGroups, key: Hashable, executor: Any, schema: Schema, start: int
    ) -> None:
        self.groups = groups
        self.key = key
        self.executor = executor
        self.schema = schema
        context: RequestContext = executor.context_value
        assert context.caller is not None
        self.stores: Stores = context.stores
        self.caller: Caller = context.caller
        self.members: dict[Member, None] = {}
        self.solo = 0  # members on their own (catching up or ending) that will come back
        self.last = start  # the seq of the last event given to the members
        self.closed = False
        self.task = asyncio.create_task(
            self._run(start), name=f"event-group:{self.caller.owner_id}"
        )

    def admit(self, member: Member, last: int) -> None:
        member.last = member.handed = last
        self.members[member] = None

    async def _run(self, start: int) -> None:
        stream = feed.follow(self.stores, self.caller, encode_cursor(start))
        ending: Any = None
        try:
            async for event in stream:
                payload = await self.execute(event_of(event))
                for member in list(self.members):
                    member.offer(event.seq, payload)
                self.last = event.seq
        except domain.DomainError as error:
            ending = member_of(MeImageEventResult, error)
        except Exception as exc:
            log.exception("following events for subscriptions failed")
            ending = internal_error(exc)
        finally:
            await stream.aclose()
        self._close()
        for member in list(self.members):
            self.members.pop(member)
            self.solo += 1
            member.solo = asyncio.create_task(member._end(ending))

    async def execute(self, value: object) -> Payload:
        """The payload of `value` (an event, or the error that ends a stream) for this
        group's document: executed once per event among subscribers of its
        document, variables and caller (`schema.events.shared`)."""
        if isinstance(value, ExecutionResult):
            return self.payload(value)
        result = execute_subscription_event(self.executor.build_per_event_executor(value))
        if isinstance(result, ExecutionResult):
            return self.payload(result)
        return self.payload(await result)

    def payload(self, result: ExecutionResult) -> Payload:
        """The `next` payload of a result, as Strawberry's transport makes it: its
        errors reported and masked by the schema's own rules."""
        if not result.errors:
            return {"data": result.data}
        report_errors(self.schema, result.errors)
        for extension in self.schema.get_extensions():
            if isinstance(extension, MaskErrors):
                hook = extension.on_stream_result(result)  # type: ignore[arg-type]
                next(hook, None)
        return {"data": result.data, "errors": [error.formatted for error in result.errors]}

    def release(self) -> None:
        """A member left: the group ends with its last member."""
        if not self.members and self.solo <= 0 and not self.closed:
            self._close()
            self.task.cancel()

    def _close(self) -> None:
        self.closed = True
        self.groups.drop(self)


class EventGroups:
    """This process's event groups, by document, variables and caller."""

    def __init__(self, admitting: int = ADMITTING) -> None:
        self._groups: dict[Hashable, EventGroup] = {}
        # Operations a door runs at once to admit subscribers it may hand over.
        self.admissions = asyncio.Semaphore(admitting)

    def __len__(self) -> int:
        return len(self._groups)

    def group_for(self, key: Hashable, executor: Any, schema: Schema, start: int) -> EventGroup:
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = EventGroup(self, key, executor, schema, start)
        return group

    def drop(self, group: EventGroup) -> None:
        if self._groups.get(group.key) is group:
            del self._groups[group.key]


class Handoff:
    """A door's offer to take an operation's subscriber over (its root value); the
    executor running the operation makes itself known here (`SharedEventExecution`)."""

    __slots__ = ("executor", "groups", "id", "member", "on_settled", "schema", "sink")

    def __init__(self, groups: EventGroups, schema: Schema, sink: Sink, id: str) -> None:
        self.groups = groups
        self.schema = schema
        self.sink = sink
        self.id = id
        self.executor: Any = None
        self.member: Member | None = None
        # Called once when it is known whether the subscriber was taken over.
        self.on_settled: Callable[[], None] | None = None

    def settle(self) -> None:
        settled, self.on_settled = self.on_settled, None
        if settled is not None:
            settled()

    async def take(self, context: RequestContext, after: str | None, until: float | None) -> bool:
        """Make the subscriber a member of its group; False when it stays with its
        operation (then nothing was taken)."""
        try:
            return await self._take(context, after, until)
        finally:
            self.settle()

    async def _take(self, context: RequestContext, after: str | None, until: float | None) -> bool:
        executor = self.executor
        caller = context.caller
        if executor is None or caller is None or executor.context_value is not context:
            return False
        try:
            start = None if after is None else feed.start_of(after)
            key = _key(executor, caller, context)
        except (domain.DomainError, TypeError, ValueError):
            return False  # the operation answers it, as it always did
        position = await feed.position(context.stores, caller)
        # From here on nothing awaits: the member joins at a known position.
        group = self.groups.group_for(key, executor, self.schema, position)
        member = Member(self.id, self.sink, context, group, until)
        if start is None or start >= group.last:
            # From now: the feed's position, or what the group gave if it is ahead.
            group.admit(member, max(position, group.last) if start is None else start)
        else:
            member.last = start
            member._go_solo()
        if until is not None:
            member.timer = asyncio.get_running_loop().call_at(until, member._on_deadline)
        executor.root_value = None  # the handoff is done with
        self.member = member
        return True


def _key(executor: Any, caller: Caller, context: RequestContext) -> Hashable:
    """What makes two subscribers' results the same: the document, the operation, the
    variables its selection reads and the caller, and the origin their URLs are made
    for. A variable only the subscription field's own arguments read (`after`) changes
    where a subscriber starts, not what an event shows: subscribers resuming from
    different cursors share a group."""
    operation = executor.operation
    if operation.loc is None:
        raise ValueError("no source")
    name = operation.name.value if operation.name else None
    values = executor.variable_values.coerced
    read = _selection_variables(operation, executor.fragments)
    variables = json.dumps(
        {k: v for k, v in values.items() if read is None or k in read},
        sort_keys=True,
        default=str,
    )
    return (operation.loc.source.body, name, variables, caller, context.origin)


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: object) -> None:
        self.names.add(node.name.value)


def _selection_variables(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> set[str] | None:
    """The variables the root field's selection (and any fragment) reads, or None when
    the root selection is not a plain field with directives of its own."""
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    field = selections[0]
    if field.directives or operation.directives:
        return None
    found = _Variables()
    if field.selection_set is not None:
        visit(field.selection_set, found)
    for fragment in fragments.values():
        visit(fragment, found)
    return found.names


def handoff_of(root: object) -> Handoff | None:
    return root if isinstance(root, Handoff) else None


__all__ = ["EventGroups", "Handoff", "Member", "Sink", "Watch", "handoff_of"]
