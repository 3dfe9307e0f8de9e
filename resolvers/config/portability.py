"""Where export archives are kept, for how long, and how big an archive may be."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# The variant an archive's download URL is signed for: never a media variant, so a
# download signature cannot be replayed on the media route.
ARCHIVE_VARIANT = "archive.zip"


class DownloadSigner(Protocol):
    """Signs and checks archive download URLs (`resolvers.media.signed_urls.MediaUrlSigner`
    under `/exports`; named by what it does, so the configuration sits below the media rules)."""

    def url(
        self, media_id: str, variant: str, owner_id: str, *, now: float | None = None
    ) -> str: ...

    def verify(
        self,
        media_id: str,
        variant: str,
        owner_id: str,
        expires: str,
        sig: str,
        *,
        now: float | None = None,
    ) -> bool: ...


@dataclass(frozen=True)
class PortabilityConfig:
    # Built archives; one folder of the server (see the README on several instances).
    export_dir: Path = field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "meimages-exports"
    )
    # How long a built archive is kept (its download URL lives at most this long).
    archive_ttl_s: int = 24 * 3600
    # An archive offered for import: its total uncompressed size and number of entries.
    max_archive_bytes: int = 2 * 1024**3
    max_entries: int = 20_000
    # Whether a person may delete everything of theirs themselves (`deleteMyData`); an
    # operator whose deployment needs a grace period turns it off.
    self_deletion: bool = True
    # Signs `/exports/{id}/archive.zip` URLs; None where no HTTP door serves them (CLI).
    downloads: DownloadSigner | None = None
