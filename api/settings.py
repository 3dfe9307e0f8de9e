"""All configuration: one immutable, validated object read from `MEIMAGES_*` variables.

Each field is one variable: `MEIMAGES_` + the field name in capitals, unless the field
names its variable itself (`media_url_ttl_s` is `MEIMAGES_MEDIA_URL_TTL`). An empty
variable counts as unset. A value that does not parse stops start-up with a `ConfigError`
naming the variable. Defaults that a lower floor owns (limits, query limits, generation)
are taken from that floor, so each is declared once. A secret is a field with
`repr=False`: that one mark keeps it out of reprs, error messages and `meimages config`.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from jwt.algorithms import get_default_algorithms
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from api.pydantic_settings_compat import EnvironSource
from resolvers.cache_budget import DEFAULT_CACHE_BYTES
from resolvers.config.generation import (
    GEMINI_DEFAULT_BASE_URL,
    OPENAI_DEFAULT_BASE_URL,
    ComfyUIEngine,
    GenerationConfig,
    ProviderKind,
    endpoint,
)
from resolvers.config.portability import PortabilityConfig
from resolvers.config.workflows import Workflow, WorkflowError, load_workflows
from resolvers.limits import Limits, RateLimits
from resolvers.media.signed_urls import MediaUrlSigner
from storage.crypto import MasterKey
from storage.db import DEFAULT_MAX_CONNECTIONS

PREFIX = "MEIMAGES_"

# The floors below own these defaults; the settings only let an operator change them.
_LIMITS = Limits()
_GENERATION = GenerationConfig()
_COMFYUI = ComfyUIEngine(base_url="")
_RATES = RateLimits()
_PORTABILITY = PortabilityConfig()

_BOOLEANS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}
# The JWKS issuers' usual asymmetric algorithms; HS256 is the embedded setup's own.
JWKS_ALGORITHMS = ("RS256", "ES256", "EdDSA")
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
LogFormat = Literal["text", "json"]


def _flag(value: object) -> object:
    # Pydantic alone also takes "t", "y", "f", "n"; a typo must never read as false.
    if not isinstance(value, str):
        return value
    try:
        return _BOOLEANS[value.strip().lower()]
    except KeyError:
        raise ValueError("expected true/false, 1/0, yes/no or on/off") from None


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _whole_seconds(value: object) -> object:
    # The README documents these in seconds; say so rather than "not a valid integer".
    if isinstance(value, str) and not value.strip().isdigit():
        raise ValueError("expected a whole number of seconds, e.g. 3600")
    return value


def _base_url(value: str) -> str:
    return value.strip().rstrip("/")


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _redis_url(value: str) -> str:
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    return value


def _engine_url(value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL, e.g. http://127.0.0.1:8188")
    return value


def _master_key(value: str) -> str:
    if not value:  # none set: the key file in the data dir
        return value
    try:
        MasterKey.from_b64(value)
    except ValueError:
        raise ValueError("expected a base64-encoded 32-byte key") from None
    return value


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR range") from None
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]
OptionalFlag = Annotated[bool | None, BeforeValidator(_flag)]
# Comma-separated in the environment, a tuple in Python (NoDecode: not JSON).
CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)]
Trimmed = Annotated[str, AfterValidator(str.strip)]
BaseUrl = Annotated[str, AfterValidator(_base_url)]
# API keys and S3 credentials: pasted with stray blanks at times, never in a repr.
Credential = Annotated[str, AfterValidator(str.strip), Field(repr=False)]
Seconds = Annotated[int, BeforeValidator(_whole_seconds), Field(ge=0)]
Positive = Annotated[int, Field(gt=0)]
Count = Annotated[int, Field(ge=0)]


class ConfigError(ValueError):
    """Invalid configuration. The message names each variable, all on one line."""


class Settings(BaseSettings):
    """What one server runs with. Build it with `from_env`; the constructor reads no
    environment, so tests and tools pass exactly the values they mean."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
    )

    data_dir: Path = Path("data")
    database_url: str = Field("", repr=False)  # may carry a password
    blob_dir: Path | None = None
    master_key: Annotated[Credential, AfterValidator(_master_key)] = ""
    previous_master_keys: Annotated[CommaList, Field(repr=False)] = ()
    jwt_secret: str = Field("", repr=False)
    jwt_jwks_url: Trimmed = ""
    # Default: HS256, or the JWKS set when MEIMAGES_JWT_JWKS_URL is set.
    jwt_algorithms: CommaList = Field((), validate_default=True)
    jwt_issuer: str = ""
    jwt_audience: str = ""
    url_secret: str = Field("", repr=False)
    media_url_ttl_s: Seconds = Field(3600, gt=0, validation_alias="MEIMAGES_MEDIA_URL_TTL")
    public_base_url: BaseUrl = ""
    production: Flag = False
    introspection: OptionalFlag = None  # None: follow production
    graphiql: OptionalFlag = None
    allowed_origins: CommaList = ()
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # Processes serving on that port (`serve --workers`; several need PostgreSQL).
    workers: Positive = 1
    # PostgreSQL connections the server holds at most, its workers together.
    db_pool_size: Positive = DEFAULT_MAX_CONNECTIONS
    log_level: Annotated[LogLevel, BeforeValidator(_lower)] = "info"
    # Uploads and media (resolvers.stores.Limits).
    max_upload_bytes: Positive = _LIMITS.max_upload_bytes
    max_image_pixels: Positive = _LIMITS.max_image_pixels
    decode_timeout_s: float = Field(
        _LIMITS.decode_timeout_s, gt=0, validation_alias="MEIMAGES_DECODE_TIMEOUT"
    )
    max_transform_px: Positive = _LIMITS.max_transform_px
    pool_snapshots: Count = _LIMITS.pool_snapshots
    pool_cap: Positive = _LIMITS.pool_cap
    # Query limits and the per-process query cache (0: off).
    max_query_depth: Positive = 10
    max_aliases: Positive = 30
    max_tokens: Positive = 2000
    query_cache_entries: Count = 10_000
    # Bytes all in-process caches may hold together (resolvers.cache_budget); 0: none kept.
    cache_bytes: Count = DEFAULT_CACHE_BYTES
    # Queries answered by their compiled plans where that gives graphql-core's answer
    # (false: graphql-core runs every query).
    compiled_reads: Flag = True
    # Mutations of one root field answered by compiled plans the same way; a resolver
    # never runs twice (false: graphql-core runs every mutation).
    compiled_mutations: Flag = True
    # MCP at /mcp: sessionless, so any instance can answer any request (no list-change notices).
    mcp_stateless: Flag = False
    # Reference generation: providers stay off until a key or a base URL is set.
    openai_api_key: Credential = ""
    openai_base_url: BaseUrl = ""
    gemini_api_key: Credential = ""
    gemini_base_url: BaseUrl = ""
    generation_timeout_s: float = Field(
        _GENERATION.timeout_s, gt=0, validation_alias="MEIMAGES_GENERATION_TIMEOUT"
    )
    generation_max_request_bytes: Positive = _GENERATION.max_request_bytes
    initial_credits: Count = _GENERATION.initial_credits
    # How often a sweeper releases the credit holds of generations whose process died (0: off).
    generation_sweep_interval_s: float = Field(
        60.0, ge=0, validation_alias="MEIMAGES_GENERATION_SWEEP_INTERVAL"
    )
    # The provider kinds any owner's images may be sent to (empty: every configured one).
    allowed_providers: CommaList = ()
    # A ComfyUI engine of the operator's and its workflow files (each one the model
    # `local/<name>`); a job longer than the timeout is interrupted and dequeued.
    comfyui_url: Annotated[BaseUrl, AfterValidator(_engine_url)] = ""
    comfyui_workflows: CommaList = ()
    comfyui_timeout_s: float = Field(
        _COMFYUI.timeout_s, gt=0, validation_alias="MEIMAGES_COMFYUI_TIMEOUT"
    )
    # Live changes: WebSocket limits, and how long the event log keeps events for
    # resuming subscribers (0 keeps them forever).
    ws_init_timeout_s: float = Field(10.0, gt=0, validation_alias="MEIMAGES_WS_INIT_TIMEOUT")
    # Slow and half-dead clients: a WebSocket that answers no ping for this long is closed
    # (its subscriptions resume by cursor on reconnect); a request body that stalls
    # longer than the idle timeout, or takes longer than the body timeout, gets a 408.
    ws_ping_interval_s: float = Field(20.0, gt=0, validation_alias="MEIMAGES_WS_PING_INTERVAL")
    ws_ping_timeout_s: float = Field(20.0, gt=0, validation_alias="MEIMAGES_WS_PING_TIMEOUT")
    body_idle_timeout_s: float = Field(30.0, gt=0, validation_alias="MEIMAGES_BODY_IDLE_TIMEOUT")
    body_timeout_s: float = Field(300.0, gt=0, validation_alias="MEIMAGES_BODY_TIMEOUT")
    ws_max_message_bytes: Positive = 64 * 1024
    event_retention_days: float = Field(30.0, ge=0)
    # Media storage: empty = local folder; `s3://bucket/prefix?endpoint=…` for any
    # S3-compatible store (credentials below, else the usual AWS_* variables).
    blob_url: Trimmed = ""
    s3_access_key_id: Credential = ""
    s3_secret_access_key: Credential = ""
    s3_session_token: Credential = ""
    # Orphaned blobs are deleted after this grace; the collector runs every interval (0: off).
    gc_grace_s: Seconds = Field(3600, validation_alias="MEIMAGES_GC_GRACE")
    gc_interval_s: Seconds = Field(3600, validation_alias="MEIMAGES_GC_INTERVAL")
    # Operating it: log lines as text or JSON; `/metrics` answers only with this bearer
    # token (unset: no `/metrics`); proxies whose X-Forwarded-* headers are believed.
    log_format: Annotated[LogFormat, BeforeValidator(_lower)] = "text"
    metrics_token: Credential = ""
    trusted_proxies: CommaList = ()
    # Limits and the locked query surface (README "Limits", "Trusted documents and persisted
    # queries"). Rate limits per owner, 0 turns one off; their counters and the persisted
    # queries live in Redis when a URL is set (shared by every instance), else in memory.
    rate_requests_per_second: Count = _RATES.requests_per_second
    rate_uploads_per_minute: Count = _RATES.uploads_per_minute
    rate_generations_per_hour: Count = _RATES.generations_per_hour
    rate_generations_per_day: Count = _RATES.generations_per_day
    redis_url: Annotated[str, AfterValidator(str.strip), AfterValidator(_redis_url)] = Field(
        "", repr=False
    )  # may carry a password
    redis_key_prefix: Trimmed = Field("meimages", min_length=1)
    max_query_cost: Positive = 5000
    trusted_documents: Annotated[Literal["off", "allow", "require"], BeforeValidator(_lower)] = (
        "off"
    )
    # Default: the manifest shipped with the server (api/trusted_documents.json).
    trusted_documents_file: Path | None = None
    # Data portability: where export archives are built, how long they are kept, and the
    # largest total an imported archive may unpack to.
    export_dir: Path | None = None
    export_ttl_s: Seconds = Field(
        _PORTABILITY.archive_ttl_s, gt=0, validation_alias="MEIMAGES_EXPORT_TTL"
    )
    max_import_bytes: Positive = _PORTABILITY.max_archive_bytes
    # Backups: the erasure journal a restore replays (default erasures.jsonl in the data
    # folder, which backups skip; better on a disk of its own, see README "Operating it").
    erasure_journal: Path | None = None
    # Off: `deleteMyData` is refused (SelfDeletionDisabledError); only `purge --user` erases.
    self_deletion: bool = _PORTABILITY.self_deletion
    # Content Credentials of generated images (README "Provenance"): the operator's signing
    # certificate chain (signer first) and its private key, PEM files, set both or neither;
    # unset, a private CA made on first start in <data dir>/signing signs.
    signing_cert_file: Path | None = None
    signing_key_file: Path | None = None

    @field_validator("previous_master_keys")
    @classmethod
    def _previous_master_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_master_key(key) for key in keys)

    @field_validator("allowed_providers")
    @classmethod
    def _allowed_providers(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        known = [kind.value for kind in ProviderKind]
        if unknown := [name for name in names if name.lower() not in known]:
            raise ValueError(f"unknown provider {unknown[0]!r}; one of {', '.join(known)}")
        return tuple(name.lower() for name in names)

    @field_validator("comfyui_workflows")
    @classmethod
    def _comfyui_workflows(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        try:
            load_workflows(paths)
        except WorkflowError as exc:
            raise ValueError(str(exc)) from None
        return paths

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_network(value) for value in values)

    @field_validator("jwt_algorithms")
    @classmethod
    def _jwt_algorithms(cls, names: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if not names:
            return JWKS_ALGORITHMS if info.data.get("jwt_jwks_url") else ("HS256",)
        known = set(get_default_algorithms()) - {"none"}
        if unknown := [name for name in names if name not in known]:
            raise ValueError(f"unknown algorithm {unknown[0]!r}; one of {', '.join(sorted(known))}")
        return names

    # Reading the environment ----------------------------------------------

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the constructor's values: `from_env` reads the environment itself.
        return (init_settings,)

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of the field `name`."""
        alias = cls.model_fields[name].validation_alias
        return alias if isinstance(alias, str) else PREFIX + name.upper()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """The settings from `env` (default: this process's environment); `overrides`
        (e.g. command-line options) win over the environment."""
        source = EnvironSource(cls, os.environ if env is None else env)
        by_name = {cls._field_of(key): value for key, value in source().items()}
        given = {name: value for name, value in by_name.items() if name not in overrides}
        try:
            return cls.model_validate({**given, **overrides})
        except ValidationError as exc:
            problems = [cls._problem(error, from_env=set(given)) for error in exc.errors()]
            raise ConfigError("; ".join(problems)) from None

    @classmethod
    def unknown_variables(cls, env: Mapping[str, str] | None = None) -> list[str]:
        """`MEIMAGES_*` variables no setting reads (typos, mostly), each with the closest
        known name when there is one."""
        environ = os.environ if env is None else env
        known = {cls.variable(name) for name in cls.model_fields}
        found = []
        for key in sorted(environ):
            if key.startswith(PREFIX) and key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                found.append(f"{key} (did you mean {close[0]}?)" if close else key)
        return found

    def effective(self) -> list[tuple[str, str]]:
        """Every variable with the value in effect; secrets show only whether they are set."""
        rows = []
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if not field.repr:
                shown = "(set, hidden)" if value else "(unset)"
            elif isinstance(value, tuple):
                shown = ",".join(value)
            elif value is None:
                shown = self._default_note(name)
            else:
                shown = str(value).lower() if isinstance(value, bool) else str(value)
            rows.append((self.variable(name), shown))
        return rows

    def _default_note(self, name: str) -> str:
        if name == "signing_cert_file" and self.signing_key_file is None:
            return (
                f"(default: a private CA in {self.data_dir / 'signing'} signs; its Content "
                "Credentials verify as intact, but from an untrusted signer)"
            )
        return "(default)"

    @classmethod
    def _field_of(cls, key: str) -> str:
        if key in cls.model_fields:
            return key
        return next(n for n, f in cls.model_fields.items() if f.validation_alias == key)

    @classmethod
    def _problem(cls, error: Any, from_env: set[str]) -> str:
        key = str(error["loc"][0]) if error["loc"] else ""
        name = cls._field_of(key) if key else ""
        where = cls.variable(name) if name in from_env else name or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        field: FieldInfo | None = cls.model_fields.get(name)
        if field is not None and field.repr and isinstance(error.get("input"), str):
            message += f" (got {error['input']!r})"
        return f"{where}: {message}"

    # Derived values -------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        return (
            self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'meimages.db').resolve()}"
        )

    @property
    def db_connections_per_process(self) -> int:
        """Each worker's share of `db_pool_size` (one at least)."""
        return max(1, self.db_pool_size // self.workers)

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "media"

    @property
    def resolved_erasure_journal(self) -> Path:
        return self.erasure_journal or self.data_dir / "erasures.jsonl"

    @property
    def master_key_file(self) -> Path:
        return self.data_dir / "master-keys.json"

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else not self.production

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.production

    def limits(self) -> Limits:
        return Limits(
            max_upload_bytes=self.max_upload_bytes,
            max_image_pixels=self.max_image_pixels,
            decode_timeout_s=self.decode_timeout_s,
            max_transform_px=self.max_transform_px,
            pool_snapshots=self.pool_snapshots,
            pool_cap=self.pool_cap,
        )

    def rate_limits(self) -> RateLimits:
        return RateLimits(
            requests_per_second=self.rate_requests_per_second,
            uploads_per_minute=self.rate_uploads_per_minute,
            generations_per_hour=self.rate_generations_per_hour,
            generations_per_day=self.rate_generations_per_day,
        )

    def generation_config(self) -> GenerationConfig:
        return GenerationConfig(
            openai=endpoint(self.openai_base_url, self.openai_api_key, OPENAI_DEFAULT_BASE_URL),
            gemini=endpoint(self.gemini_base_url, self.gemini_api_key, GEMINI_DEFAULT_BASE_URL),
            comfyui=(
                ComfyUIEngine(base_url=self.comfyui_url, timeout_s=self.comfyui_timeout_s)
                if self.comfyui_url
                else None
            ),
            workflows=self._workflows(),
            timeout_s=self.generation_timeout_s,
            initial_credits=self.initial_credits,
            max_request_bytes=self.generation_max_request_bytes,
            allowed_providers=(
                frozenset(ProviderKind(name) for name in self.allowed_providers)
                if self.allowed_providers
                else None
            ),
        )

    def _workflows(self) -> tuple[Workflow, ...]:
        try:
            return load_workflows(self.comfyui_workflows)
        except WorkflowError as exc:  # changed on disk since start-up was checked
            raise ConfigError(f"{self.variable('comfyui_workflows')}: {exc}") from None

    @property
    def resolved_export_dir(self) -> Path:
        return self.export_dir or self.data_dir / "exports"

    def portability_config(self, downloads: MediaUrlSigner | None = None) -> PortabilityConfig:
        return PortabilityConfig(
            export_dir=self.resolved_export_dir,
            archive_ttl_s=self.export_ttl_s,
            max_archive_bytes=self.max_import_bytes,
            self_deletion=self.self_deletion,
            downloads=downloads,
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
        return self.model_copy(
            update={
                "jwt_secret": self.jwt_secret or stored["jwt_secret"],
                "url_secret": self.url_secret or stored["url_secret"],
            }
        )
