"""What the rules report about themselves, without knowing who listens.

The API floor plugs its metrics in here (see `api.observability.metrics`); the rules stay
free of any metrics library. Every value passed is bounded and free of user content:
codes, provider and model ids from the server's own tables, sizes and durations.
"""

from __future__ import annotations

from typing import Protocol


class Observer(Protocol):
    def upload_stored(self, size: int) -> None:
        """An upload was validated and stored; `size` is the bytes received."""

    def upload_rejected(self, reason: str) -> None:
        """An upload was refused; `reason` is the domain error's code."""

    def generation_finished(
        self, provider: str, model: str, outcome: str, seconds: float, credits: int
    ) -> None:
        """A provider call ended (`succeeded` or `failed`) after `seconds`, charging `credits`."""

    def domain_error(self, code: str) -> None:
        """A domain error was answered to a client (as a typed result or an error)."""


class NullObserver:
    """The default: nobody listens."""

    def upload_stored(self, size: int) -> None:
        pass

    def upload_rejected(self, reason: str) -> None:
        pass

    def generation_finished(
        self, provider: str, model: str, outcome: str, seconds: float, credits: int
    ) -> None:
        pass

    def domain_error(self, code: str) -> None:
        pass
