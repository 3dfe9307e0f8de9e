"""The typed error of an import."""

from __future__ import annotations

import enum
from typing import cast

import strawberry

from resolvers import errors as domain
from resolvers.lifecycle.self_deletion import SelfDeletionDisabled
from resolvers.portability.errors import ArchiveProblem as Problem
from resolvers.portability.errors import InvalidArchive
from schema.enums import ErrorCode
from schema.errors import Error, represents


@strawberry.enum(description="What is wrong with an archive offered for import.")
class ArchiveProblem(enum.Enum):
    NOT_A_ZIP = strawberry.enum_value(Problem.NOT_A_ZIP.value, description="Not a zip file.")
    UNSAFE_PATH = strawberry.enum_value(
        Problem.UNSAFE_PATH.value, description="An entry name is absolute or climbs out (`..`)."
    )
    SYMLINK = strawberry.enum_value(Problem.SYMLINK.value, description="An entry is a link.")
    ENCRYPTED = strawberry.enum_value(Problem.ENCRYPTED.value, description="An entry is encrypted.")
    UNEXPECTED_ENTRY = strawberry.enum_value(
        Problem.UNEXPECTED_ENTRY.value, description="A file a meimages export never holds."
    )
    DUPLICATE_ENTRY = strawberry.enum_value(
        Problem.DUPLICATE_ENTRY.value, description="Two entries with the same name."
    )
    TOO_MANY_ENTRIES = strawberry.enum_value(
        Problem.TOO_MANY_ENTRIES.value, description="More entries or images than allowed."
    )
    TOO_LARGE = strawberry.enum_value(
        Problem.TOO_LARGE.value, description="An entry, or the whole, unpacks past a limit."
    )
    COMPRESSION_BOMB = strawberry.enum_value(
        Problem.COMPRESSION_BOMB.value,
        description="An entry inflates far beyond its compressed size or past what it declared.",
    )
    CORRUPT = strawberry.enum_value(Problem.CORRUPT.value, description="Damaged data or JSON.")
    WRONG_FORMAT = strawberry.enum_value(
        Problem.WRONG_FORMAT.value, description="Not a meimages export (no or another manifest)."
    )
    UNSUPPORTED_VERSION = strawberry.enum_value(
        Problem.UNSUPPORTED_VERSION.value, description="A format version this server cannot read."
    )
    BAD_FIELD = strawberry.enum_value(
        Problem.BAD_FIELD.value, description="A field of pool.json is missing or invalid."
    )
    DUPLICATE_ID = strawberry.enum_value(
        Problem.DUPLICATE_ID.value, description="Two images with the same id or file."
    )
    MISSING_FILE = strawberry.enum_value(
        Problem.MISSING_FILE.value, description="A file the archive refers to is not in it."
    )
    IMAGE_REJECTED = strawberry.enum_value(
        Problem.IMAGE_REJECTED.value, description="An image is refused as an upload would be."
    )
    ALREADY_IMPORTED = strawberry.enum_value(
        Problem.ALREADY_IMPORTED.value,
        description="Every image of the archive is already in this space's pool (the archive "
        "was imported before): importing it again would only duplicate them.",
    )

    @classmethod
    def of(cls, problem: Problem) -> ArchiveProblem:
        return cls(problem.value)

    def to_domain(self) -> Problem:
        return Problem(cast(str, self.value))


@represents(InvalidArchive, http_status=400)
@strawberry.type(description="The archive cannot be imported; nothing was changed.")
class InvalidArchiveError(Error):
    problem: ArchiveProblem = strawberry.field(description="What is wrong with it.")
    entry: str | None = strawberry.field(
        default=None, description="The archive entry at fault, when there is one."
    )

    @classmethod
    def of(cls, error: domain.DomainError) -> Error:
        assert isinstance(error, InvalidArchive)
        return cls(
            code=ErrorCode(error.code),
            message=error.message,
            problem=ArchiveProblem.of(error.problem),
            entry=error.entry,
        )


@represents(SelfDeletionDisabled, http_status=403)
@strawberry.type(
    description="This server keeps deleting a person's data for its operator (whose "
    "deployment may need a grace period): nothing was deleted; ask them."
)
class SelfDeletionDisabledError(Error):
    pass
