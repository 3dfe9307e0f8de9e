"""Subscription results serialised once, however many subscribers send them.

A subscription event executed once per document and owner (schema.events.shared) hands
every subscriber the same `data` object. Its JSON is kept here by identity, so the
thousandth subscriber wraps an already encoded payload in its own frame (its operation
id) instead of encoding the event again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping

# Recent payloads by the identity of their data; each entry holds the data itself, so
# an id is never reused while its entry lives.
RECENT_PAYLOADS = 256

_encoded: OrderedDict[int, tuple[object, str]] = OrderedDict()


def encoded_payload(payload: Mapping[str, object], encode: Callable[[object], str | bytes]) -> str:
    """`encode(payload)` for a payload of data alone, taken from the recent ones when the
    same data object was encoded before."""
    data = payload.get("data")
    if len(payload) != 1 or not isinstance(data, dict):
        return _text(encode(payload))
    known = _encoded.get(id(data))
    if known is not None and known[0] is data:
        return known[1]
    text = _text(encode(payload))
    _encoded[id(data)] = (data, text)
    if len(_encoded) > RECENT_PAYLOADS:
        _encoded.popitem(last=False)
    return text


def next_message(message: Mapping[str, object], encode: Callable[[object], str | bytes]) -> str:
    """A graphql-transport-ws (or graphql-ws) message, its payload encoded once."""
    payload = message.get("payload")
    if message.get("type") not in ("next", "data") or not isinstance(payload, Mapping):
        return _text(encode(message))
    head = {key: value for key, value in message.items() if key != "payload"}
    # The head's own JSON object, opened to take the shared payload as its last member.
    return _text(encode(head))[:-1] + ',"payload":' + encoded_payload(payload, encode) + "}"


def _text(encoded: str | bytes) -> str:
    return encoded.decode() if isinstance(encoded, bytes) else encoded


__all__ = ["encoded_payload", "next_message"]
