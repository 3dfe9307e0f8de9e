"""The Upload scalar, strict about what counts as a file, and reading one within a limit."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload


def _parse_upload(value: object) -> object:
    # Only a file part of a multipart request is an upload; a string or object sent
    # inline is invalid input (a validation error), not a crash inside the resolver.
    if callable(getattr(value, "read", None)):
        return value
    raise ValueError("an Upload is a file part of a multipart request")


STRICT_UPLOAD = strawberry.scalar(
    name="Upload", description="Represents a file upload.", parse_value=_parse_upload
)


async def read_upload(file: Upload, max_bytes: int) -> bytes:
    """Read at most max_bytes + 1: enough for `store_image` to refuse an oversized file
    without the whole of it ever being read into memory."""
    data: bytes = await file.read(max_bytes + 1)  # type: ignore[attr-defined]
    return data
