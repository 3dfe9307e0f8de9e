"""Sealed files: large files (export archives waiting for download) encrypted as a stream.

Written and read in segments, so neither side holds the file in memory. Each segment is
sealed with AES-256-GCM under the owner's blob key, with a nonce made of a random prefix
and the segment's number and a flag for the last one (the STREAM construction), so
segments cannot be reordered, dropped or the file cut short without detection. The
associated data binds the file to its owner and name, as for blobs.

Layout: magic "MEIF" (4) | version (1) | data key id (16) | nonce prefix (7) | segments,
each `SEGMENT` bytes of plaintext (the last one shorter, possibly empty) + a 16-byte tag.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.crypto import BlobKeys, DecryptionError

FILE_MAGIC = b"MEIF"
FILE_VERSION = 1
SEGMENT = 1 << 20
_TAG = 16
_PREFIX = 7
_HEADER = len(FILE_MAGIC) + 1 + 16 + _PREFIX


def _aad(header: bytes, owner_id: str, name: str) -> bytes:
    return header + json.dumps(["meimages/file/v1", owner_id, name]).encode()


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class SealedFileWriter:
    """A write-only binary file that seals what is written to it (for `zipfile`, which
    writes to it as to any stream that cannot seek)."""

    def __init__(self, path: Path, keys: BlobKeys, owner_id: str, name: str) -> None:
        self._prefix = os.urandom(_PREFIX)
        header = FILE_MAGIC + bytes([FILE_VERSION]) + uuid.UUID(keys.data_key_id).bytes
        header += self._prefix
        self._aead = AESGCM(keys.seal)
        self._aad = _aad(header, owner_id, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._out: BinaryIO = os.fdopen(fd, "wb")
        self._out.write(header)
        self._pending = bytearray()
        self._index = 0
        self.closed = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._pending += data
        while len(self._pending) > SEGMENT:
            self._seal(bytes(self._pending[:SEGMENT]), last=False)
            del self._pending[:SEGMENT]
        return len(data)

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._index, last)
        self._out.write(self._aead.encrypt(nonce, chunk, self._aad))
        self._index += 1

    def flush(self) -> None:
        # Segments are written whole; what is pending goes out with the next one.
        return None

    def close(self) -> None:
        """Seal the last segment and make the file durable."""
        if self.closed:
            return
        self.closed = True
        try:
            self._seal(bytes(self._pending), last=True)
            self._out.flush()
            os.fsync(self._out.fileno())
        finally:
            self._out.close()

    def abandon(self) -> None:
        """Stop without finishing (the caller removes the file)."""
        self.closed = True
        self._out.close()


def is_sealed_file(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(FILE_MAGIC)) == FILE_MAGIC


def sealed_file_key_id(path: Path) -> str:
    with path.open("rb") as fh:
        header = fh.read(_HEADER)
    if len(header) < _HEADER or not header.startswith(FILE_MAGIC) or header[4] != FILE_VERSION:
        raise DecryptionError("not a sealed file of a known version")
    return str(uuid.UUID(bytes=header[5:21]))


def plaintext_size(path: Path) -> int:
    """The size of the file once opened, from its size on disk."""
    body = path.stat().st_size - _HEADER
    segments = max(1, -(-body // (SEGMENT + _TAG)))
    return body - segments * _TAG


def read_sealed_file(path: Path, keys: BlobKeys, owner_id: str, name: str) -> Iterator[bytes]:
    """The plaintext, segment by segment; raises DecryptionError at the first segment that
    does not open (and when the file was cut short)."""
    with path.open("rb") as fh:
        header = fh.read(_HEADER)
        if len(header) < _HEADER or not header.startswith(FILE_MAGIC):
            raise DecryptionError("not a sealed file")
        aead, aad, prefix = AESGCM(keys.seal), _aad(header, owner_id, name), header[-_PREFIX:]
        index = 0
        chunk = fh.read(SEGMENT + _TAG)
        while True:
            following = fh.read(SEGMENT + _TAG)
            last = not following
            try:
                yield aead.decrypt(_nonce(prefix, index, last), chunk, aad)
            except InvalidTag as exc:
                raise DecryptionError("this file does not open for this owner and name") from exc
            if last:
                return
            chunk, index = following, index + 1
