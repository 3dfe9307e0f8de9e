"""What the resolvers work with: the caller, and the stores of one running server."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from resolvers.generation.config import GenerationConfig
from storage.blobs import BlobStore
from storage.db import Database
from storage.eventlog.fanout import EventNotifier
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
    medium_px: int = 1024
    # Upper bound of each side of an on-the-fly transform.
    max_transform_px: int = 2048
    # Decoded pools kept in memory (see me_images.pool_snapshot); 0 reads every time.
    pool_snapshots: int = 2000


@dataclass
class Stores:
    db: Database
    vault: FieldVault
    blobs: BlobStore
    notifier: EventNotifier = field(default_factory=EventNotifier)
    limits: Limits = field(default_factory=Limits)
    # Image providers and credit rules; no provider configured by default.
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    # owner id -> (database change stamp, data version) as last read; see owners.data_version.
    owner_versions: dict[str, tuple[int, int]] = field(default_factory=dict)
    # (owner, space) -> decoded pool at a data version; see me_images.pool_snapshot.
    pool_snapshots: OrderedDict[tuple[str, str], Any] = field(default_factory=OrderedDict)
