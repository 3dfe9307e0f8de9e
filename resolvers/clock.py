"""The time the rules go by: consent that lapses is judged by this clock, not the wall's
directly, so tests can move it instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class WallClock:
    """The server's real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)
