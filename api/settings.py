"""All configuration, read from `MEIMAGES_*` environment variables in this one place."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from resolvers.generation.config import (
    GEMINI_DEFAULT_BASE_URL,
    OPENAI_DEFAULT_BASE_URL,
    GenerationConfig,
    endpoint,
)

PREFIX = "MEIMAGES_"


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    database_url: str = field(default="", repr=False)  # may carry a password
    blob_dir: Path | None = None
    master_key: str = field(default="", repr=False)
    previous_master_keys: tuple[str, ...] = field(default=(), repr=False)
    jwt_secret: str = field(default="", repr=False)
    jwt_jwks_url: str = ""
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_issuer: str = ""
    jwt_audience: str = ""
    url_secret: str = field(default="", repr=False)
    media_url_ttl_s: int = 3600
    public_base_url: str = ""
    production: bool = False
    introspection: bool | None = None
    graphiql: bool | None = None
    allowed_origins: tuple[str, ...] = ()
    max_upload_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_query_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    query_cache_entries: int = 10_000
    host: str = "127.0.0.1"
    port: int = 8000
    # Reference generation: providers stay off until a key or a base URL is set.
    openai_api_key: str = field(default="", repr=False)
    openai_base_url: str = ""
    gemini_api_key: str = field(default="", repr=False)
    gemini_base_url: str = ""
    generation_timeout_s: float = 180.0
    generation_max_request_bytes: int = 48 * 1024 * 1024
    initial_credits: int = 0
    # How often a sweeper releases the credit holds of generations whose process died (0: off).
    generation_sweep_interval_s: float = 60.0
    # Live changes: WebSocket limits, and how long the event log keeps events for
    # resuming subscribers (0 keeps them forever).
    ws_init_timeout_s: float = 10.0
    ws_max_message_bytes: int = 64 * 1024
    event_retention_days: float = 30.0
    # Media storage: empty = local folder; `s3://bucket/prefix?endpoint=…` for any
    # S3-compatible store (credentials below, else the usual AWS_* variables).
    blob_url: str = ""
    s3_access_key_id: str = field(default="", repr=False)
    s3_secret_access_key: str = field(default="", repr=False)
    s3_session_token: str = field(default="", repr=False)
    # Orphaned blobs are deleted after this grace; the collector runs every interval (0: off).
    gc_grace_s: int = 3600
    gc_interval_s: int = 3600
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            return env.get(PREFIX + name)

        values: dict[str, object] = {}
        if v := get("DATA_DIR"):
            values["data_dir"] = Path(v)
        if v := get("DATABASE_URL"):
            values["database_url"] = v
        if v := get("BLOB_DIR"):
            values["blob_dir"] = Path(v)
        if v := get("MASTER_KEY"):
            values["master_key"] = v
        if v := get("PREVIOUS_MASTER_KEYS"):
            values["previous_master_keys"] = tuple(k for k in v.split(",") if k.strip())
        if v := get("JWT_SECRET"):
            values["jwt_secret"] = v
        if v := get("JWT_JWKS_URL"):
            values["jwt_jwks_url"] = v
            values["jwt_algorithms"] = ("RS256", "ES256", "EdDSA")
        if v := get("JWT_ALGORITHMS"):
            values["jwt_algorithms"] = tuple(a.strip() for a in v.split(",") if a.strip())
        if v := get("JWT_ISSUER"):
            values["jwt_issuer"] = v
        if v := get("JWT_AUDIENCE"):
            values["jwt_audience"] = v
        if v := get("URL_SECRET"):
            values["url_secret"] = v
        if v := get("MEDIA_URL_TTL"):
            values["media_url_ttl_s"] = int(v)
        if v := get("PUBLIC_BASE_URL"):
            values["public_base_url"] = v.rstrip("/")
        if v := get("PRODUCTION"):
            values["production"] = _bool(v)
        if v := get("INTROSPECTION"):
            values["introspection"] = _bool(v)
        if v := get("GRAPHIQL"):
            values["graphiql"] = _bool(v)
        if v := get("ALLOWED_ORIGINS"):
            values["allowed_origins"] = tuple(o.strip() for o in v.split(",") if o.strip())
        if v := get("MAX_UPLOAD_BYTES"):
            values["max_upload_bytes"] = int(v)
        if v := get("QUERY_CACHE_ENTRIES"):
            values["query_cache_entries"] = int(v)
        if v := get("MAX_QUERY_DEPTH"):
            values["max_query_depth"] = int(v)
        if v := get("HOST"):
            values["host"] = v
        if v := get("PORT"):
            values["port"] = int(v)
        if v := get("OPENAI_API_KEY"):
            values["openai_api_key"] = v.strip()
        if v := get("OPENAI_BASE_URL"):
            values["openai_base_url"] = v.strip().rstrip("/")
        if v := get("GEMINI_API_KEY"):
            values["gemini_api_key"] = v.strip()
        if v := get("GEMINI_BASE_URL"):
            values["gemini_base_url"] = v.strip().rstrip("/")
        if v := get("GENERATION_TIMEOUT"):
            values["generation_timeout_s"] = float(v)
        if v := get("GENERATION_MAX_REQUEST_BYTES"):
            values["generation_max_request_bytes"] = int(v)
        if v := get("INITIAL_CREDITS"):
            values["initial_credits"] = int(v)
        if v := get("GENERATION_SWEEP_INTERVAL"):
            values["generation_sweep_interval_s"] = float(v)
        if v := get("WS_INIT_TIMEOUT"):
            values["ws_init_timeout_s"] = float(v)
        if v := get("WS_MAX_MESSAGE_BYTES"):
            values["ws_max_message_bytes"] = int(v)
        if v := get("EVENT_RETENTION_DAYS"):
            values["event_retention_days"] = float(v)
        if v := get("MAX_IMAGE_PIXELS"):
            values["max_image_pixels"] = int(v)
        if v := get("BLOB_URL"):
            values["blob_url"] = v.strip()
        if v := get("S3_ACCESS_KEY_ID"):
            values["s3_access_key_id"] = v.strip()
        if v := get("S3_SECRET_ACCESS_KEY"):
            values["s3_secret_access_key"] = v.strip()
        if v := get("S3_SESSION_TOKEN"):
            values["s3_session_token"] = v.strip()
        if v := get("GC_GRACE"):
            values["gc_grace_s"] = int(v)
        if v := get("GC_INTERVAL"):
            values["gc_interval_s"] = int(v)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    # Derived values -------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        return (
            self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'meimages.db').resolve()}"
        )

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "media"

    @property
    def master_key_file(self) -> Path:
        return self.data_dir / "master-keys.json"

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else not self.production

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.production

    def generation_config(self) -> GenerationConfig:
        return GenerationConfig(
            openai=endpoint(self.openai_base_url, self.openai_api_key, OPENAI_DEFAULT_BASE_URL),
            gemini=endpoint(self.gemini_base_url, self.gemini_api_key, GEMINI_DEFAULT_BASE_URL),
            timeout_s=self.generation_timeout_s,
            initial_credits=self.initial_credits,
            max_request_bytes=self.generation_max_request_bytes,
        )

    @property
    def embedded_auth(self) -> bool:
        """HS256 with a server secret: the single-machine setup that can mint its own tokens."""
        return not self.jwt_jwks_url

    def with_local_secrets(self) -> Settings:
        """Fill missing secrets from `secrets.json` in the data dir, creating it (0600) once."""
        if self.jwt_secret and self.url_secret:
            return self
        path = self.data_dir / "secrets.json"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            stored = json.loads(path.read_text())
        else:
            stored = {
                "jwt_secret": secrets.token_urlsafe(48),
                "url_secret": secrets.token_urlsafe(48),
            }
            with os.fdopen(fd, "w") as fh:
                json.dump(stored, fh)
                fh.flush()
                os.fsync(fh.fileno())
        return replace(
            self,
            jwt_secret=self.jwt_secret or stored["jwt_secret"],
            url_secret=self.url_secret or stored["url_secret"],
        )
