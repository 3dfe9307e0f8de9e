"""All configuration, read from `MEIMAGES_*` environment variables in this one place."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

PREFIX = "MEIMAGES_"


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    database_url: str = ""
    blob_dir: Path | None = None
    master_key: str = ""
    previous_master_keys: tuple[str, ...] = ()
    jwt_secret: str = ""
    jwt_jwks_url: str = ""
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_issuer: str = ""
    jwt_audience: str = ""
    url_secret: str = ""
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
    host: str = "127.0.0.1"
    port: int = 8000
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
        if v := get("MAX_QUERY_DEPTH"):
            values["max_query_depth"] = int(v)
        if v := get("HOST"):
            values["host"] = v
        if v := get("PORT"):
            values["port"] = int(v)
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
