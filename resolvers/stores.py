"""What the resolvers work with: the caller, and the stores of one running server."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from resolvers.generation.config import GenerationConfig
from resolvers.limits import Limits
from storage.blobs import BlobStore
from storage.db import Database
from storage.eventlog.fanout import EventNotifier
from storage.keys import FieldVault

__all__ = ["PERSONAL_SPACE", "Caller", "Limits", "Stores"]

PERSONAL_SPACE = "personal"


@dataclass(frozen=True)
class Caller:
    """An authenticated owner acting in one space (their personal space unless the token says)."""

    owner_id: str
    space_id: str = PERSONAL_SPACE


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
