"""Log lines: plain text for a terminal, or one JSON object per line for a collector.

Both formats carry the request id of the request being served. The access line of each
request (logger `meimages.access`) adds the route, status, duration, GraphQL operation,
outcome and the owner — as a keyed hash, so lines of one owner can be followed without
the log holding who they are.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from api import request_id

LogFormat = Literal["text", "json"]
ACCESS_LOGGER = "meimages.access"
# The access line's fields, passed as `extra`; JSON shows them as they are.
ACCESS_FIELDS = (
    "method",
    "route",
    "status",
    "duration_ms",
    "owner",
    "operation",
    "operation_type",
    "outcome",
)
TRACE_LEVEL = 5  # uvicorn's "trace", below DEBUG
_access = logging.getLogger(ACCESS_LOGGER)  # looked up once: getLogger takes a lock


class OwnerHash:
    """HMAC of the owner id under a server secret: stable per server, not reversible by
    hashing a list of guessed ids."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, owner_id: str | None) -> str | None:
        if owner_id is None:
            return None
        return hmac.new(self._key, owner_id.encode(), hashlib.sha256).hexdigest()[:16]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.current_request_id()
        if rid is not None:
            entry["request_id"] = rid
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None) or request_id.current_request_id()
        return f"{line} [request {rid}]" if rid is not None else line


def configure(log_format: LogFormat, level: str) -> None:
    """The root handler of the process in `log_format`; uvicorn's loggers propagate to it."""
    logging.addLevelName(TRACE_LEVEL, "TRACE")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = TRACE_LEVEL if level == "trace" else logging.getLevelName(level.upper())
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def access_line(
    record: request_id.RequestRecord,
    *,
    owner_hash: OwnerHash,
    method: str,
    route: str,
    status: int,
    seconds: float,
) -> None:
    if not _access.isEnabledFor(logging.INFO):
        return
    duration_ms = round(seconds * 1000, 2)
    text = f"{method} {route} {status} {duration_ms}ms"
    if record.operation_type is not None:
        text += f" {record.operation_type} {record.operation or '(anonymous)'} {record.outcome}"
    _access.info(
        text,
        extra={
            "request_id": record.request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "owner": owner_hash(record.owner_id),
            "operation": record.operation,
            "operation_type": record.operation_type,
            "outcome": record.outcome or ("ok" if status < 400 else "error"),
        },
    )
