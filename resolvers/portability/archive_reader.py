"""Reading an archive offered for import, refusing anything hostile before it is used.

Checked before any file is read: entry names (only the names the format writes: no
absolute paths, `..`, backslashes or unknown files), no links, no encryption, no
duplicates, the number of entries, each entry's declared size and compression ratio,
and the total. While reading, no entry may yield more than it declared (a zip can lie
about sizes), and each document is parsed only within its size bound.
"""

from __future__ import annotations

import json
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from resolvers.config.portability import PortabilityConfig
from resolvers.limits import Limits
from resolvers.portability import archive_format as fmt
from resolvers.portability.errors import ArchiveProblem, InvalidArchive

# Real images barely compress and JSON compresses about tenfold; far beyond that is a bomb.
MAX_RATIO = 100
_READ_CHUNK = 1024 * 1024


class ArchiveReader:
    """A checked archive: its entries by name, each read within its bounds."""

    def __init__(self, archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo]) -> None:
        self._archive = archive
        self.entries = entries

    def has(self, name: str) -> bool:
        return name in self.entries

    def read(self, name: str, limit: int) -> bytes:
        """The entry's bytes; refused when it yields more than it declared or than `limit`."""
        info = self.entries.get(name)
        if info is None:
            raise InvalidArchive(ArchiveProblem.MISSING_FILE, "is missing", entry=name)
        if info.file_size > limit:
            raise InvalidArchive(ArchiveProblem.TOO_LARGE, f"is larger than {limit} bytes", name)
        chunks: list[bytes] = []
        size = 0
        try:
            with self._archive.open(info) as stream:
                while chunk := stream.read(_READ_CHUNK):  # bounded by the size check
                    size += len(chunk)
                    if size > info.file_size or size > limit:
                        raise InvalidArchive(
                            ArchiveProblem.COMPRESSION_BOMB, "inflates past its declared size", name
                        )
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise InvalidArchive(ArchiveProblem.CORRUPT, "is corrupt", entry=name) from exc
        return b"".join(chunks)

    def document(self, name: str) -> Any:
        """A JSON file of the archive."""
        data = self.read(name, fmt.MAX_DOCUMENT_BYTES)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise InvalidArchive(ArchiveProblem.CORRUPT, "is not valid JSON", entry=name) from exc


def _check_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    # zipfile rewrites some names (drive letters, backslashes on Windows); judge the raw one too.
    raw = getattr(info, "orig_filename", name)
    if name != raw or "\\" in raw or raw.startswith("/") or ".." in raw.split("/") or "\x00" in raw:
        raise InvalidArchive(ArchiveProblem.UNSAFE_PATH, "is not a safe path", entry=raw[:200])
    if name in fmt.FIXED_FILES or name in fmt.FOLDERS or fmt.is_image_entry(name):
        return
    raise InvalidArchive(
        ArchiveProblem.UNEXPECTED_ENTRY, "is not a file of a meimages export", entry=name[:200]
    )


def _check_entry(info: zipfile.ZipInfo, limits: Limits) -> None:
    _check_name(info)
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise InvalidArchive(ArchiveProblem.SYMLINK, "is a symbolic link", entry=name)
    if info.flag_bits & 0x1:
        raise InvalidArchive(ArchiveProblem.ENCRYPTED, "is encrypted", entry=name)
    bound = limits.max_upload_bytes if fmt.is_image_entry(name) else fmt.MAX_DOCUMENT_BYTES
    if info.file_size > bound:
        raise InvalidArchive(ArchiveProblem.TOO_LARGE, f"is larger than {bound} bytes", name)
    if info.file_size > MAX_RATIO * max(info.compress_size, 1) and info.file_size > 1024 * 1024:
        raise InvalidArchive(
            ArchiveProblem.COMPRESSION_BOMB,
            f"declares more than {MAX_RATIO} times its compressed size",
            name,
        )


@contextmanager
def open_archive(
    source: Path | IO[bytes], config: PortabilityConfig, limits: Limits
) -> Iterator[ArchiveReader]:
    """The archive in `source`, its directory checked (raises InvalidArchive)."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise InvalidArchive(ArchiveProblem.NOT_A_ZIP, "the file is not a zip archive") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > config.max_entries:
            raise InvalidArchive(
                ArchiveProblem.TOO_MANY_ENTRIES, f"more than {config.max_entries} entries"
            )
        entries: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            _check_entry(info, limits)
            if info.filename in entries:
                raise InvalidArchive(
                    ArchiveProblem.DUPLICATE_ENTRY, "appears twice", entry=info.filename
                )
            entries[info.filename] = info
            total += info.file_size
            if total > config.max_archive_bytes:
                raise InvalidArchive(
                    ArchiveProblem.TOO_LARGE,
                    f"the archive unpacks to more than {config.max_archive_bytes} bytes",
                )
        yield ArchiveReader(archive, entries)
