"""Export and import follow the encrypted-field declaration: a field declared on a
throwaway table round-trips through the archive's encoding of an image without a change
to the export or the import (the real declaration's round trip, through a real archive,
is test_round_trip.py; the other shapes of an image: tests/pool/test_declared_image_fields.py)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, cast

import pytest

from resolvers.errors import InvalidInput
from resolvers.pool.me_images import encrypted_from_json, encrypted_json
from storage.encrypted import EncryptedColumns
from storage.tables import ME_IMAGE_ENCRYPTED, MeImageEncrypted
from tests.support.declared_fields import DECLARED, VALUES


def archived(values: object, declared: EncryptedColumns[Any]) -> dict[str, Any]:
    """What an export writes for these fields, as an import reads it back."""
    return cast(dict[str, Any], json.loads(json.dumps(encrypted_json(values, declared))))


def test_a_new_encrypted_field_round_trips_through_export_and_import() -> None:
    values = VALUES
    entry = archived(values, DECLARED)
    assert set(entry) == {"label", "tags", "note", "aliases"}
    assert DECLARED.build(encrypted_from_json(entry, DECLARED)) == values
    # Missing from an older archive: the field takes its default.
    older = {k: v for k, v in entry.items() if k not in ("note", "aliases")}
    assert DECLARED.build(encrypted_from_json(older, DECLARED)) == dataclasses.replace(
        values, note=None, aliases=[]
    )


def test_the_import_applies_each_declared_fields_limits() -> None:
    for bad in ({"note": "x" * 501}, {"aliases": ["a", "b", "c", "d"]}, {"note": 5}):
        with pytest.raises(InvalidInput) as refused:
            encrypted_from_json(bad, DECLARED)
        assert refused.value.field == next(iter(bad))


def test_the_product_declaration_is_what_the_export_writes() -> None:
    """With the real declaration, the same functions give the archive format of today
    (and one entry per declared field, whatever fields are declared later)."""
    values = MeImageEncrypted(label="x", tags=["a"])
    entry = archived(values, ME_IMAGE_ENCRYPTED)
    assert set(entry) == set(ME_IMAGE_ENCRYPTED.names())
    assert (entry["label"], entry["tags"]) == ("x", ["a"])
    assert ME_IMAGE_ENCRYPTED.build(encrypted_from_json({"label": "x", "tags": ["a"]})) == values
