"""How long a token is honoured: one rule for the HTTP and WebSocket doors (the signature
check), operations on an open WebSocket and running subscriptions."""

from __future__ import annotations

import time

# Clock skew forgiven between the token's issuer and this server.
TOKEN_LEEWAY_S = 30


def seconds_left(expires_at: float | None) -> float | None:
    """Seconds a token with this `exp` is still honoured (negative once it is not);
    None for a caller without an expiring token."""
    return None if expires_at is None else expires_at + TOKEN_LEEWAY_S - time.time()
