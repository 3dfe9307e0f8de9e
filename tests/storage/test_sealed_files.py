"""The sealed file format (export archives): streamed in segments, bound to its owner and
name, and any cut, swap or flipped byte is found."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from storage.crypto import DecryptionError, blob_keys
from storage.sealed_files import (
    SEGMENT,
    SealedFileWriter,
    plaintext_size,
    read_sealed_file,
)

KEYS = blob_keys(str(uuid.uuid4()), os.urandom(32), "owner-1")


def write(path: Path, data: bytes, pieces: int = 7) -> None:
    writer = SealedFileWriter(path, KEYS, "owner-1", path.name)
    step = max(1, len(data) // pieces)
    for at in range(0, len(data), step):
        writer.write(data[at : at + step])
    writer.close()


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT + 17])
def test_a_file_reads_back_whole_and_its_size_is_known(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "a.zip"
    write(path, data)
    assert plaintext_size(path) == size
    assert b"".join(read_sealed_file(path, KEYS, "owner-1", "a.zip")) == data
    assert data[:32] not in path.read_bytes() or size < 32


def test_cuts_swaps_flips_and_moves_do_not_open(tmp_path: Path) -> None:
    data = os.urandom(2 * SEGMENT + 100)
    path = tmp_path / "a.zip"
    write(path, data)
    sealed = path.read_bytes()
    header, segment = 28, SEGMENT + 16
    first, second = (
        sealed[header : header + segment],
        sealed[header + segment : header + 2 * segment],
    )
    damaged = {
        "cut after a whole segment": sealed[: header + 2 * segment],
        "segments swapped": sealed[:header] + second + first + sealed[header + 2 * segment :],
        "a byte flipped": sealed[:-5] + bytes([sealed[-5] ^ 1]) + sealed[-4:],
    }
    for what, content in damaged.items():
        path.write_bytes(content)
        with pytest.raises(DecryptionError):
            b"".join(read_sealed_file(path, KEYS, "owner-1", "a.zip"))
        assert what
    path.write_bytes(sealed)
    for owner, name in (("owner-2", "a.zip"), ("owner-1", "b.zip")):
        with pytest.raises(DecryptionError):
            b"".join(read_sealed_file(path, KEYS, owner, name))
