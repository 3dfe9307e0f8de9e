"""Encrypted columns, declared once next to their table.

A table declares its encrypted fields as a frozen dataclass of their plaintext types,
each made with `encrypted(...)`: one optional string, or a list of strings. A field `x`
is stored only as ciphertext in the column `x_ct`, bound to (table, field, row id,
owner). From that one declaration the vault seals and opens every field of a row in one
call (`storage.keys.FieldVault`), the event log's snapshot carries every field
(`storage.eventlog.snapshot`), and the resolvers know what to clean and show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from sqlmodel import SQLModel

P = TypeVar("P")

_LIMITS = "meimages.encrypted"


def encrypted(*, max_chars: int, max_items: int | None = None) -> Any:
    """A dataclass field that is stored encrypted: a list of strings when `max_items` is
    given (empty by default), else an optional string (None by default)."""
    limits = {_LIMITS: (max_chars, max_items)}
    if max_items is None:
        return dataclasses.field(default=None, metadata=limits)
    return dataclasses.field(default_factory=list, metadata=limits)


@dataclasses.dataclass(frozen=True)
class EncryptedField:
    name: str
    column: str
    max_chars: int
    # Set for a list of strings; None for one optional string.
    max_items: int | None

    @property
    def is_list(self) -> bool:
        return self.max_items is not None


class EncryptedColumns(Generic[P]):
    """The encrypted fields of one table, with the plaintext dataclass they open into.

    `owner` and `row_id` name the row attributes a ciphertext is bound to.
    """

    def __init__(
        self,
        table: type[SQLModel],
        plaintext: type[P],
        *,
        owner: str = "owner_id",
        row_id: str = "id",
    ) -> None:
        self.table: str = table.__tablename__  # type: ignore[assignment]
        self.plaintext = plaintext
        self._owner = owner
        self._row_id = row_id
        fields: list[EncryptedField] = []
        for item in dataclasses.fields(plaintext):  # type: ignore[arg-type]
            if _LIMITS not in item.metadata:
                raise TypeError(f"{plaintext.__name__}.{item.name} is not made by encrypted()")
            max_chars, max_items = item.metadata[_LIMITS]
            fields.append(EncryptedField(item.name, f"{item.name}_ct", max_chars, max_items))
        columns = table.__table__.c  # type: ignore[attr-defined]
        missing = [f.column for f in fields if f.column not in columns]
        if missing:
            raise TypeError(f"{self.table} declares encrypted fields without columns: {missing}")
        self._fields = {f.name: f for f in fields}

    def __iter__(self) -> Iterator[EncryptedField]:
        return iter(self._fields.values())

    def __getitem__(self, name: str) -> EncryptedField:
        return self._fields[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._fields)

    def binding(self, row: object) -> tuple[str, str]:
        """(owner id, row id) of a row: what its ciphertexts are bound to."""
        return str(getattr(row, self._owner)), str(getattr(row, self._row_id))

    def ciphertexts(self, row: object) -> dict[str, bytes | None]:
        """The stored ciphertext of every declared field of a row, by field name."""
        return {f.name: getattr(row, f.column) for f in self}

    def build(self, values: Mapping[str, object]) -> P:
        """The plaintext dataclass; fields missing from `values` take their default."""
        return self.plaintext(**{k: v for k, v in values.items() if v is not None})

    def empty(self) -> P:
        return self.plaintext()
