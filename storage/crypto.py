"""Field encryption: per-owner data keys wrapped by a master key, AES-256-GCM everywhere.

Ciphertext layout (all binary):  version (1 byte) | key id (16 bytes) | nonce (12) | ct+tag

The associated data binds a ciphertext to its table, field, row id and owner, so a
ciphertext copied to another row, another field or another owner fails to decrypt.
Master keys form a keyring: the first is used to wrap new data keys, the others can
still unwrap until `rotate-master-key` has re-wrapped everything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = 1
_NONCE = 12
_KEY_ID = 16
_HEADER = 1 + _KEY_ID


class DecryptionError(Exception):
    """A ciphertext is malformed, was moved, or its key is gone."""


@dataclass(frozen=True)
class MasterKey:
    key: bytes

    @property
    def id(self) -> str:
        # A fingerprint, not the key: lets a wrapped data key name its wrapping key.
        return hashlib.sha256(b"meimages-master-key-id" + self.key).hexdigest()[:16]

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_b64(cls, text: str) -> MasterKey:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        if len(raw) != 32:
            raise ValueError("a master key is 32 bytes, base64-encoded")
        return cls(raw)

    def to_b64(self) -> str:
        return base64.urlsafe_b64encode(self.key).decode()


class MasterKeyring:
    """The master keys a process knows; `primary` wraps, all of them unwrap.

    Backed by a key file, the ring follows the file: a rotation done by another
    process takes effect here on the next wrap (new primary) or unwrap (unknown id).
    """

    def __init__(self, keys: Sequence[MasterKey], source: KeyFile | None = None) -> None:
        if not keys:
            raise ValueError("at least one master key is needed")
        self._keys = list(keys)
        self._source = source
        self._stamp = source.stamp() if source is not None else None

    def _refresh(self, force: bool = False) -> None:
        if self._source is None:
            return
        stamp = self._source.stamp()
        if force or stamp != self._stamp:
            self._keys = self._source.load()
            self._stamp = stamp

    @property
    def keys(self) -> list[MasterKey]:
        return list(self._keys)

    @property
    def primary(self) -> MasterKey:
        self._refresh()
        return self._keys[0]

    def find(self, key_id: str) -> MasterKey | None:
        for attempt in range(2):
            if attempt:
                self._refresh(force=True)
            for key in self._keys:
                if key.id == key_id:
                    return key
        return None

    def wrap(self, data_key: bytes, owner_id: str, data_key_id: str) -> tuple[str, bytes]:
        nonce = os.urandom(_NONCE)
        aad = _wrap_aad(owner_id, data_key_id)
        primary = self.primary
        return primary.id, nonce + AESGCM(primary.key).encrypt(nonce, data_key, aad)

    def unwrap(self, wrapped: bytes, master_key_id: str, owner_id: str, data_key_id: str) -> bytes:
        master = self.find(master_key_id)
        if master is None:
            raise DecryptionError("the master key that wrapped this data key is not configured")
        try:
            return AESGCM(master.key).decrypt(
                wrapped[:_NONCE], wrapped[_NONCE:], _wrap_aad(owner_id, data_key_id)
            )
        except InvalidTag as exc:
            raise DecryptionError("data key does not unwrap") from exc


def _wrap_aad(owner_id: str, data_key_id: str) -> bytes:
    return f"meimages/data-key/v1|{owner_id}|{data_key_id}".encode()


def field_aad(table: str, field: str, row_id: str, owner_id: str) -> bytes:
    return json.dumps(["meimages/field/v1", table, field, row_id, owner_id]).encode()


def new_data_key() -> tuple[str, bytes]:
    return str(uuid.uuid4()), AESGCM.generate_key(bit_length=256)


def encrypt_field(data_key_id: str, data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    header = bytes([FORMAT_VERSION]) + uuid.UUID(data_key_id).bytes
    return header + nonce + AESGCM(data_key).encrypt(nonce, plaintext, header + aad)


def ciphertext_key_id(blob: bytes) -> str:
    if len(blob) < _HEADER + _NONCE + 16 or blob[0] != FORMAT_VERSION:
        raise DecryptionError("unknown ciphertext format")
    return str(uuid.UUID(bytes=blob[1:_HEADER]))


def decrypt_field(data_key: bytes, blob: bytes, aad: bytes) -> bytes:
    ciphertext_key_id(blob)
    header, nonce, body = blob[:_HEADER], blob[_HEADER : _HEADER + _NONCE], blob[_HEADER + _NONCE :]
    try:
        return AESGCM(data_key).decrypt(nonce, body, header + aad)
    except InvalidTag as exc:
        raise DecryptionError("ciphertext does not belong here") from exc


# Blob layout:  magic "MEIB" (4) | version (1) | data key id (16) | nonce (12) | ct+tag
# The magic tells a sealed object from a plaintext one stored before sealing existed
# (no image format starts with it); the version lets the layout evolve.
BLOB_MAGIC = b"MEIB"
BLOB_VERSION = 1
_BLOB_HEADER = len(BLOB_MAGIC) + 1 + _KEY_ID


@dataclass(frozen=True)
class BlobKeys:
    """An owner's keys for stored bytes, derived from one of their data keys: one seals
    the bytes, the other names the objects. Destroying the data key destroys both."""

    data_key_id: str
    seal: bytes
    names: bytes


def blob_keys(data_key_id: str, data_key: bytes, owner_id: str) -> BlobKeys:
    def derive(purpose: str) -> bytes:
        info = json.dumps([purpose, owner_id, data_key_id]).encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(data_key)

    return BlobKeys(data_key_id, derive("meimages/blob-seal/v1"), derive("meimages/blob-name/v1"))


def blob_name_digest(keys: BlobKeys, *parts: str) -> str:
    """A keyed digest for object names: the same parts give the same name for one owner
    (de-duplication), and without the key nobody can tell which content it names."""
    message = json.dumps(["meimages/blob-name/v1", *parts]).encode()
    return hmac.new(keys.names, message, hashlib.sha256).hexdigest()


def _blob_aad(header: bytes, owner_id: str, name: str) -> bytes:
    return header + json.dumps(["meimages/blob/v1", owner_id, name]).encode()


def seal_blob(keys: BlobKeys, owner_id: str, name: str, plaintext: bytes) -> bytes:
    """Encrypt stored bytes, bound to their owner and object name."""
    nonce = os.urandom(_NONCE)
    header = BLOB_MAGIC + bytes([BLOB_VERSION]) + uuid.UUID(keys.data_key_id).bytes
    return (
        header
        + nonce
        + AESGCM(keys.seal).encrypt(nonce, plaintext, _blob_aad(header, owner_id, name))
    )


def is_sealed_blob(data: bytes) -> bool:
    return data[: len(BLOB_MAGIC)] == BLOB_MAGIC


def sealed_blob_key_id(data: bytes) -> str:
    """The id of the data key a sealed object was made with."""
    if (
        not is_sealed_blob(data)
        or len(data) < _BLOB_HEADER + _NONCE + 16
        or data[len(BLOB_MAGIC)] != BLOB_VERSION
    ):
        raise DecryptionError("not a sealed object of a known version")
    return str(uuid.UUID(bytes=data[len(BLOB_MAGIC) + 1 : _BLOB_HEADER]))


def open_blob(keys: BlobKeys, owner_id: str, name: str, data: bytes) -> bytes:
    sealed_blob_key_id(data)
    header = data[:_BLOB_HEADER]
    nonce = data[_BLOB_HEADER : _BLOB_HEADER + _NONCE]
    # A view, not a slice: copying a photo's megabytes first costs more than opening them.
    body = memoryview(data)[_BLOB_HEADER + _NONCE :]
    try:
        return AESGCM(keys.seal).decrypt(nonce, body, _blob_aad(header, owner_id, name))
    except InvalidTag as exc:
        raise DecryptionError("this object was not sealed for this owner and name") from exc


class KeyFile:
    """Master keys in a JSON file (mode 0600) in the data dir; newest first."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load_or_create(self) -> list[MasterKey]:
        if not self.path.exists():
            self.write([MasterKey.generate()])
        return self.load()

    def stamp(self) -> tuple[int, int]:
        st = self.path.stat()
        return st.st_mtime_ns, st.st_size

    def load(self) -> list[MasterKey]:
        data = json.loads(self.path.read_text())
        return [MasterKey.from_b64(item) for item in data["keys"]]

    def write(self, keys: Sequence[MasterKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"keys": [key.to_b64() for key in keys]}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        os.chmod(self.path, 0o600)
