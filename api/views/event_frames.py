"""Subscription results serialised once, however many subscribers send them.

A subscription event executed once per document and owner (schema.events.shared) hands
every subscriber the same `data` object, a `SharedData` kept among the logged event's
forms. Its JSON is made by the first subscriber sent it and kept on it, so the
thousandth subscriber wraps an already encoded payload in its own frame (its operation
id) instead of encoding the event again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from schema.events.shared import SharedData


def encoded_payload(payload: Mapping[str, object], encode: Callable[[object], str | bytes]) -> str:
    """`encode(payload)`, made once for a payload of shared data alone."""
    data = payload.get("data")
    if len(payload) != 1 or not isinstance(data, SharedData):
        return _text(encode(payload))
    if data.encoded is None:
        data.encoded = _text(encode(payload))
    return data.encoded


def next_message(message: Mapping[str, object], encode: Callable[[object], str | bytes]) -> str:
    """A graphql-transport-ws (or graphql-ws) message, its payload encoded once."""
    payload = message.get("payload")
    if message.get("type") not in ("next", "data") or not isinstance(payload, Mapping):
        return _text(encode(message))
    head = {key: value for key, value in message.items() if key != "payload"}
    # The head's own JSON object, opened to take the shared payload as its last member.
    return _text(encode(head))[:-1] + ',"payload":' + encoded_payload(payload, encode) + "}"


def next_head(operation_id: str, encode: Callable[[object], str | bytes]) -> str:
    """The start of the graphql-transport-ws `next` frames of one operation: a frame is
    this, its encoded payload (`encoded_payload`) and "}" — what `next_message` makes."""
    return _text(encode({"id": operation_id, "type": "next"}))[:-1] + ',"payload":'


def _text(encoded: str | bytes) -> str:
    return encoded.decode() if isinstance(encoded, bytes) else encoded


__all__ = ["encoded_payload", "next_head", "next_message"]
