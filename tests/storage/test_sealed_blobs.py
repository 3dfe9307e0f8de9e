"""The sealed object format and keyed names, below every store: versioned header, fresh
nonce, bound to owner and name; names per owner, stable, and blind to the content."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from storage.crypto import (
    BLOB_MAGIC,
    BLOB_VERSION,
    DecryptionError,
    blob_keys,
    blob_name_digest,
    is_sealed_blob,
    open_blob,
    seal_blob,
    sealed_blob_key_id,
)

DATA_KEY_ID, DATA_KEY = str(uuid.uuid4()), os.urandom(32)
KEYS = blob_keys(DATA_KEY_ID, DATA_KEY, "owner-1")


def test_an_object_has_a_versioned_header_a_fresh_nonce_and_opens_back() -> None:
    data = os.urandom(5000)
    first, second = (seal_blob(KEYS, "owner-1", "s/ab/name", data) for _ in range(2))
    assert first[:4] == BLOB_MAGIC and first[4] == BLOB_VERSION
    assert sealed_blob_key_id(first) == DATA_KEY_ID
    assert first != second and first[21:33] != second[21:33]  # a new nonce every time
    assert len(first) == len(data) + 4 + 1 + 16 + 12 + 16
    assert open_blob(KEYS, "owner-1", "s/ab/name", first) == data


def test_an_object_opens_only_for_its_owner_name_and_key() -> None:
    sealed = seal_blob(KEYS, "owner-1", "s/ab/name", b"picture")
    other_owner = blob_keys(DATA_KEY_ID, DATA_KEY, "owner-2")
    other_key = blob_keys(DATA_KEY_ID, os.urandom(32), "owner-1")
    for keys, owner, name in (
        (KEYS, "owner-2", "s/ab/name"),
        (KEYS, "owner-1", "s/ab/other"),
        (other_owner, "owner-2", "s/ab/name"),
        (other_key, "owner-1", "s/ab/name"),
    ):
        with pytest.raises(DecryptionError):
            open_blob(keys, owner, name, sealed)
    for damaged in (sealed[:-1], sealed[:20], b"\xff\xd8\xff" + sealed[3:]):
        with pytest.raises(DecryptionError):
            open_blob(KEYS, "owner-1", "s/ab/name", damaged)
    newer = sealed[:4] + bytes([BLOB_VERSION + 1]) + sealed[5:]
    with pytest.raises(DecryptionError, match="known version"):
        open_blob(KEYS, "owner-1", "s/ab/name", newer)
    assert not is_sealed_blob(b"\xff\xd8\xff\xe0 a JPEG")


def test_names_are_stable_per_owner_and_say_nothing_of_the_content() -> None:
    sha = hashlib.sha256(b"photo").hexdigest()
    mine = blob_name_digest(KEYS, sha, "original")
    assert mine == blob_name_digest(blob_keys(DATA_KEY_ID, DATA_KEY, "owner-1"), sha, "original")
    theirs = blob_name_digest(blob_keys(DATA_KEY_ID, DATA_KEY, "owner-2"), sha, "original")
    assert len({mine, theirs, blob_name_digest(KEYS, sha, "thumbnail")}) == 3
    assert sha[:16] not in mine and sha[:16] not in theirs
