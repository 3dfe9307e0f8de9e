"""Cursor pagination as Relay's connections define it: `first`/`after` pages forward,
`last`/`before` pages back; cursors are opaque and name a position in one list only.

The rules live here once for every list that pages (the history, the pool, an image's
uses): which arguments go together, the page sizes, what a cursor holds. A bad argument
is an InvalidInput on the argument at fault.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from resolvers.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PAGE = 20
MAX_PAGE = 100
_MAX_CURSOR_CHARS = 300


@dataclass(frozen=True)
class Window:
    """Which page a client asked for: `size` items after `after`, or (when `backward`)
    the `size` items just before `before`."""

    size: int
    backward: bool = False
    after: str | None = None
    before: str | None = None

    @property
    def cursor(self) -> str | None:
        return self.before if self.backward else self.after

    @property
    def cursor_field(self) -> str:
        return "before" if self.backward else "after"


def window(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    *,
    default: int = DEFAULT_PAGE,
    maximum: int = MAX_PAGE,
) -> Window:
    """The page asked for; a null size takes the default. Forward is `first`/`after`,
    backward `last`/`before`; mixing the two directions is refused."""
    if first is not None and last is not None:
        raise InvalidInput("give either first or last, not both", field="last")
    if after is not None and before is not None:
        raise InvalidInput("give either after or before, not both", field="before")
    backward = last is not None or before is not None
    if backward and (first is not None or after is not None):
        wrong = "first" if first is not None else "after"
        raise InvalidInput(f"{wrong} pages forward: use it without last and before", field=wrong)
    name, size = ("last", last) if backward else ("first", first)
    if size is None:
        size = default
    if not 1 <= size <= maximum:
        raise InvalidInput(f"{name} is between 1 and {maximum}", field=name)
    return Window(size=size, backward=backward, after=after, before=before)


def encode(tag: str, value: str) -> str:
    """An opaque cursor: the list's tag and a position, base64url without padding."""
    return base64.urlsafe_b64encode(f"{tag}{value}".encode()).decode().rstrip("=")


def decode(tag: str, cursor: str, field: str) -> str:
    """The position inside a cursor of this list; InvalidInput on `field` otherwise."""
    malformed = InvalidInput(f"{field} is not a cursor of this list", field=field)
    if not cursor or len(cursor) > _MAX_CURSOR_CHARS:
        raise malformed
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise malformed from None
    if not raw.startswith(tag) or not raw[len(tag) :]:
        raise malformed
    return raw[len(tag) :]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, in the list's order, with what lies on either side."""

    items: list[T]
    has_next: bool
    has_previous: bool


def page_of(
    items: Sequence[T],
    position: Callable[[T], tuple[str, ...]],
    descending: bool,
    found: Window,
    anchor: tuple[str, ...] | None,
) -> Page[T]:
    """A page of a list held whole in memory (`items` in list order, sorted by `position`,
    `descending` or not). `anchor` is the decoded cursor's position: an item need not still
    exist for its cursor to keep its place."""

    def beyond(item: T) -> bool:  # comes after the anchor in list order
        assert anchor is not None
        key = position(item)
        return key < anchor if descending else key > anchor

    if not found.backward:
        rest = [i for i in items if anchor is None or beyond(i)]
        return Page(rest[: found.size], len(rest) > found.size, len(rest) < len(items))
    ahead = [i for i in items if anchor is None or (not beyond(i) and position(i) != anchor)]
    return Page(ahead[-found.size :], len(ahead) < len(items), len(ahead) > found.size)
