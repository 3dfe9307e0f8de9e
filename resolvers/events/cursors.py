"""Event cursors: opaque to clients, a position in an owner's log to us."""

from __future__ import annotations

import base64
import binascii

from resolvers.errors import DomainError, InvalidInput
from resolvers.stores import Caller, Stores

_CURSOR_PREFIX = "me1:"
# A seq is a signed 64-bit number: at most 19 digits.
_MAX_DIGITS = 19


class CursorTooOld(DomainError):
    code = "CURSOR_TOO_OLD"

    def __init__(self) -> None:
        super().__init__(
            "events after this cursor are no longer kept: refetch the pool, then subscribe "
            "again with the cursor from meImageEventCursor"
        )


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The log position of a cursor; opaque to clients, so anything else is bad input."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    number = raw.removeprefix(_CURSOR_PREFIX)
    if not raw.startswith(_CURSOR_PREFIX) or not number.isdigit() or len(number) > _MAX_DIGITS:
        raise InvalidInput("not a cursor of this server", field="after")
    return int(number)


async def head_cursor(stores: Stores, caller: Caller) -> str:
    """The cursor of the caller's newest event in the active space."""
    async with stores.reading() as read:
        return encode_cursor(await read.events.resume_point(caller.owner_id, caller.space_id))
