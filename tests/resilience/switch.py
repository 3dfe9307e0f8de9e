"""A TCP forwarder on loopback that the test can switch off and on: the S3 endpoint the
server sees becomes unreachable (connections refused, open ones cut) and then comes back
with its data intact, which stopping moto itself would lose. It can also sever the open
connections silently, as a dropped link does: the target's side is closed, and the
client's side learns it only when it next sends something (it is reset then)."""

from __future__ import annotations

import asyncio
import contextlib

from testbed.server import free_port


class Switch:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        # Each open client connection's writer, by the writer towards the target.
        self._clients: dict[asyncio.StreamWriter, asyncio.StreamWriter] = {}
        self._severed: set[asyncio.StreamWriter] = set()  # client writers, target gone

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def on(self) -> None:
        self._server = await asyncio.start_server(
            self._forward, "127.0.0.1", self.port, reuse_address=True
        )

    async def off(self) -> None:
        """Refuse new connections and cut the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    def sever(self) -> None:
        """Close every open connection's target side without telling its client."""
        for up_writer, client in list(self._clients.items()):
            self._severed.add(client)
            up_writer.transport.abort()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        self._clients[up_writer] = writer

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while chunk := await src.read(65536):
                    if writer in self._severed:  # the client spoke to a severed link
                        writer.transport.abort()
                        return
                    dst.write(chunk)
                    await dst.drain()
            if dst is writer and writer in self._severed:
                return  # silently: the client is not told the target has gone
            with contextlib.suppress(OSError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open -= {writer, up_writer}
        self._clients.pop(up_writer, None)
        self._severed.discard(writer)
