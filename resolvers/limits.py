"""The limits of uploads and media work; each default is declared here, once.

Kept import-light: `api.settings` takes these defaults and builds `Limits` from the
environment (`Settings.limits()`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    decode_timeout_s: float = 20.0
    thumbnail_px: int = 256
    medium_px: int = 1024
    # Upper bound of each side of an on-the-fly transform.
    max_transform_px: int = 2048
    # Decoded pools kept in memory (see pool.me_images.pool_snapshot); 0 reads every time.
    pool_snapshots: int = 2000
    # Live images one owner may keep in one space: keeps every pool list a bounded list.
    pool_cap: int = 1000


@dataclass(frozen=True)
class RateLimits:
    """Allowed acts per owner and window (`resolvers.rate_limits`); 0 turns one off. The
    defaults stay out of the way of one person using the web app; an operator tightens them."""

    # A guard against runaway loops, never met by a person; tighten it for a service.
    requests_per_second: int = 1000
    uploads_per_minute: int = 120
    generations_per_hour: int = 200
    generations_per_day: int = 1000
