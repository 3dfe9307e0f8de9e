"""The one error of an import: the archive is not one this server will restore."""

from __future__ import annotations

import enum

from resolvers.errors import DomainError


class ArchiveProblem(enum.StrEnum):
    """What is wrong with an archive; stable values clients may switch on."""

    NOT_A_ZIP = "not-a-zip"
    UNSAFE_PATH = "unsafe-path"
    SYMLINK = "symlink"
    ENCRYPTED = "encrypted"
    UNEXPECTED_ENTRY = "unexpected-entry"
    DUPLICATE_ENTRY = "duplicate-entry"
    TOO_MANY_ENTRIES = "too-many-entries"
    TOO_LARGE = "too-large"
    COMPRESSION_BOMB = "compression-bomb"
    CORRUPT = "corrupt"
    WRONG_FORMAT = "wrong-format"
    UNSUPPORTED_VERSION = "unsupported-version"
    BAD_FIELD = "bad-field"
    DUPLICATE_ID = "duplicate-id"
    MISSING_FILE = "missing-file"
    IMAGE_REJECTED = "image-rejected"
    ALREADY_IMPORTED = "already-imported"


class InvalidArchive(DomainError):
    """Nothing of the archive was restored; `entry` names the file at fault, if one is."""

    code = "INVALID_ARCHIVE"

    def __init__(self, problem: ArchiveProblem, message: str, entry: str | None = None) -> None:
        super().__init__(f"{entry}: {message}" if entry else message)
        self.problem = problem
        self.entry = entry
