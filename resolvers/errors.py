"""Errors a client can act on. Each has a stable code; anything else is a bug and is masked.

The code strings here are the only declaration of each code: the schema's `ErrorCode`
enum and the REST routes take them from these classes.
"""

from __future__ import annotations

from datetime import datetime

# A store that is down or full is not the client's fault and not a bug either: the doors
# answer "retry later" with these (declared with the stores that raise them).
from storage.errors import StoreFull as StoreFull
from storage.errors import StoreUnavailable as StoreUnavailable


class DomainError(Exception):
    code = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """Also the answer for ids of other owners: a foreign id looks exactly like a missing one."""

    code = "NOT_FOUND"

    def __init__(self, what: str = "MeImage") -> None:
        super().__init__(f"{what} not found")


class InvalidInput(DomainError):
    code = "INVALID_INPUT"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TooLarge(DomainError):
    code = "TOO_LARGE"

    def __init__(self, message: str, max_bytes: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes


class UnsupportedMediaType(DomainError):
    code = "UNSUPPORTED_MEDIA_TYPE"


class TokenExpired(DomainError):
    """A long-lived operation (a subscription) outlived the caller's token."""

    code = "TOKEN_EXPIRED"

    def __init__(self, expired_at: datetime) -> None:
        super().__init__(
            "the token has expired: reconnect with a fresh token and resume from your last cursor"
        )
        self.expired_at = expired_at
