"""The request id: taken from `X-Request-Id` when it is sane, made up otherwise.

It is returned in the response header and rides in a context variable for the rest of
the request, so logs, spans and error bodies can carry it without being handed it.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar
from dataclasses import dataclass

HEADER = b"x-request-id"
# Proxies send UUIDs or short tokens; anything longer or stranger is replaced, never
# echoed, so a header cannot smuggle text into our logs.
_VALID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


@dataclass
class RequestRecord:
    """What one request is, as logs and metrics tell it. Filled in as the request walks
    down: the id first, the owner and operation once known, the outcome at the end."""

    request_id: str
    owner_id: str | None = None
    operation: str | None = None
    operation_type: str | None = None
    outcome: str | None = None


_current: ContextVar[RequestRecord | None] = ContextVar("meimages_request", default=None)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == HEADER:
            return value.decode("ascii") if _VALID.fullmatch(value) else new_request_id()
    return new_request_id()


def new_request_id() -> str:
    """128 random bits in hex. An id names a request, it guards nothing: drawn from the
    process's seeded generator (reseeded in every forked worker) rather than the system's
    (a call into the kernel for each request)."""
    return f"{random.getrandbits(128):032x}"


def begin(request_id: str) -> RequestRecord:
    record = RequestRecord(request_id)
    _current.set(record)
    return record


def current() -> RequestRecord | None:
    return _current.get()


def current_request_id() -> str | None:
    record = _current.get()
    return record.request_id if record is not None else None
