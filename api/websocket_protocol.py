"""uvicorn's WebSocket protocol, except that a peer which stopped reading cannot keep its
connection open forever.

uvicorn closes a connection whose peer missed a keepalive pong (or that the app closed)
with `transport.close()`. The close frame and the FIN then queue behind everything the
peer has not read, so a peer that stopped reading keeps the connection, its buffers and
the subscriptions behind it for as long as the kernel keeps retrying. Here such a
connection is reset instead.

The one place that touches uvicorn's internals (its protocol class, `uvicorn._types`).
`WRITTEN_FOR` names the versions read; `tests/test_library_fences.py` fails when the
installed one is another.
"""

from __future__ import annotations

import socket
import struct

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"uvicorn": "0.54."}

_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends RST


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        # No pong within the timeout: the peer is gone or not reading, and the close
        # frame queued above would wait behind what it never read.
        self._reset()

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
