"""uvicorn's WebSocket protocol, except that a peer which stopped reading cannot keep its
connection open forever, and that the app may write several text frames at once.

uvicorn closes a connection whose peer missed a keepalive pong (or that the app closed)
with `transport.close()`. The close frame and the FIN then queue behind everything the
peer has not read, so a peer that stopped reading keeps the connection, its buffers and
the subscriptions behind it for as long as the kernel keeps retrying. Here such a
connection is reset instead.

Fan-out gives one connection a frame per subscription for each event; written one ASGI
`send` at a time, each is a pass through every middleware's wrapper and a write to the
socket of its own. The scope's `meimages.websocket.send_texts` extension (SEND_TEXTS)
writes a list of text frames with one write, as uvicorn's own `websocket.send` writes one.

The one place that touches uvicorn's internals (its protocol class, `uvicorn._types`).
`WRITTEN_FOR` names the versions read; `tests/test_library_fences.py` fails when the
installed one is another.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"uvicorn": "0.54.", "websockets": "17."}

_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends RST
# The scope extension: `await send_texts(texts)` writes the text frames in order, or raises
# ClientDisconnected (as `send` does) when the connection is closed or closing.
SEND_TEXTS = "meimages.websocket.send_texts"


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        # No pong within the timeout: the peer is gone or not reading, and the close
        # frame queued above would wait behind what it never read.
        self._reset()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:  # else refused, with no scope and no app
            # The app's task starts on the loop's next turn, with this scope.
            self.scope["extensions"][SEND_TEXTS] = self.send_texts  # type: ignore[assignment]

    async def send_texts(self, texts: Sequence[str]) -> None:
        """`websocket.send` of each text in turn, with one write to the socket."""
        await self.writable.wait()
        if (
            self.disconnected
            or self.close_sent
            or not self.handshake_complete
            or self.initial_response is not None
        ):
            raise ClientDisconnected()
        try:
            for text in texts:
                self.conn.send_text(text.encode())
        except InvalidState:
            raise ClientDisconnected() from None
        self.transport.write(b"".join(self.conn.data_to_send()))

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.close" and self.close_timer is not None:
            # uvicorn closes politely after close_timeout; reset instead if by then the
            # peer has not even read our close frame.
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(self.close_timeout, self._reset)

    def _reset(self) -> None:
        self.close_timer = None
        if self.disconnected:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        self.transport.abort()
