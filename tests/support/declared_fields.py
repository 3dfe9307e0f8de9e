"""A throwaway declaration of an image's encrypted fields: the product's two plus two it
does not have, on a table of its own that never reaches the product's schema or
migrations. Tests pass it where the product passes its own declaration, to show a new
field flows through unchanged code."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Column, LargeBinary, MetaData, String, Table

from storage.encrypted import EncryptedColumns, encrypted


@dataclasses.dataclass(frozen=True)
class WithNotes:
    """The image's encrypted fields plus two the product does not have."""

    label: str | None = encrypted(max_chars=200)
    tags: list[str] = encrypted(max_chars=64, max_items=30)
    note: str | None = encrypted(max_chars=500)
    aliases: list[str] = encrypted(max_chars=40, max_items=3)


THROWAWAY = Table(
    "throwaway_image",
    MetaData(),  # its own: nothing of it reaches the product's schema or migrations
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(200)),
    *(Column(f"{name}_ct", LargeBinary) for name in ("label", "tags", "note", "aliases")),
)
DECLARED: EncryptedColumns[WithNotes] = EncryptedColumns(
    cast(Any, SimpleNamespace(__tablename__=THROWAWAY.name, __table__=THROWAWAY)), WithNotes
)
VALUES = WithNotes(label="studio", tags=["warm", "été"], note="only mine 😀", aliases=["me", "I"])
