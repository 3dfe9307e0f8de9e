"""What the resolvers work with: the caller, and the stores of one running server."""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.blobs import BlobStore
from storage.db import Database
from storage.events import EventNotifier
from storage.keys import FieldVault

PERSONAL_SPACE = "personal"


@dataclass(frozen=True)
class Caller:
    """An authenticated owner acting in one space (their personal space unless the token says)."""

    owner_id: str
    space_id: str = PERSONAL_SPACE


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    decode_timeout_s: float = 20.0
    thumbnail_px: int = 256


@dataclass
class Stores:
    db: Database
    vault: FieldVault
    blobs: BlobStore
    notifier: EventNotifier = field(default_factory=EventNotifier)
    limits: Limits = field(default_factory=Limits)
