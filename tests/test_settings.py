"""Configuration: every `MEIMAGES_*` variable, its validation, its documented default."""

from __future__ import annotations

import base64
import gc
import logging
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from api import cli
from api.cli.workers import YOUNG_GC_THRESHOLD
from api.settings import ConfigError, Settings
from resolvers.config.generation import GEMINI_DEFAULT_BASE_URL, OPENAI_DEFAULT_BASE_URL
from resolvers.stores import Limits
from testbed.server import MEIMAGES, ROOT, clean_environment, free_port

KEY_A = base64.urlsafe_b64encode(bytes(range(32))).decode()
KEY_B = base64.urlsafe_b64encode(bytes(range(32, 64))).decode()

# variable -> (what the environment says, the attribute, what the code sees)
EXAMPLE_WORKFLOW = Path(__file__).parents[1] / "examples" / "comfyui" / "instantid-sdxl.json"
EVERY_VARIABLE: dict[str, tuple[str, str, Any]] = {
    "MEIMAGES_DATA_DIR": ("/srv/meimages", "data_dir", Path("/srv/meimages")),
    "MEIMAGES_DATABASE_URL": ("postgresql://u@db/m", "database_url", "postgresql://u@db/m"),
    "MEIMAGES_BLOB_DIR": ("/srv/media", "blob_dir", Path("/srv/media")),
    "MEIMAGES_MASTER_KEY": (KEY_A, "master_key", KEY_A),
    "MEIMAGES_PREVIOUS_MASTER_KEYS": (f"{KEY_A}, {KEY_B},", "previous_master_keys", (KEY_A, KEY_B)),
    "MEIMAGES_JWT_SECRET": ("s3cret", "jwt_secret", "s3cret"),
    "MEIMAGES_JWT_JWKS_URL": ("https://idp/jwks", "jwt_jwks_url", "https://idp/jwks"),
    "MEIMAGES_JWT_ALGORITHMS": ("RS256, ES256", "jwt_algorithms", ("RS256", "ES256")),
    "MEIMAGES_JWT_ISSUER": ("https://idp", "jwt_issuer", "https://idp"),
    "MEIMAGES_JWT_AUDIENCE": ("meimages", "jwt_audience", "meimages"),
    "MEIMAGES_URL_SECRET": ("u-secret", "url_secret", "u-secret"),
    "MEIMAGES_MEDIA_URL_TTL": ("60", "media_url_ttl_s", 60),
    "MEIMAGES_PUBLIC_BASE_URL": ("https://img.example/", "public_base_url", "https://img.example"),
    "MEIMAGES_PRODUCTION": ("yes", "production", True),
    "MEIMAGES_INTROSPECTION": ("on", "introspection", True),
    "MEIMAGES_GRAPHIQL": ("0", "graphiql", False),
    "MEIMAGES_ALLOWED_ORIGINS": (
        "https://a.example, https://b.example",
        "allowed_origins",
        ("https://a.example", "https://b.example"),
    ),
    "MEIMAGES_HOST": ("0.0.0.0", "host", "0.0.0.0"),
    "MEIMAGES_PORT": ("9000", "port", 9000),
    "MEIMAGES_WORKERS": ("4", "workers", 4),
    "MEIMAGES_DB_POOL_SIZE": ("12", "db_pool_size", 12),
    "MEIMAGES_LOG_LEVEL": ("WARNING", "log_level", "warning"),
    "MEIMAGES_MAX_UPLOAD_BYTES": ("1000", "max_upload_bytes", 1000),
    "MEIMAGES_MAX_IMAGE_PIXELS": ("2000", "max_image_pixels", 2000),
    "MEIMAGES_DECODE_TIMEOUT": ("2.5", "decode_timeout_s", 2.5),
    "MEIMAGES_MAX_TRANSFORM_PX": ("512", "max_transform_px", 512),
    "MEIMAGES_POOL_SNAPSHOTS": ("0", "pool_snapshots", 0),
    "MEIMAGES_POOL_CAP": ("25", "pool_cap", 25),
    "MEIMAGES_MAX_QUERY_DEPTH": ("7", "max_query_depth", 7),
    "MEIMAGES_MAX_ALIASES": ("5", "max_aliases", 5),
    "MEIMAGES_MAX_TOKENS": ("500", "max_tokens", 500),
    "MEIMAGES_QUERY_CACHE_ENTRIES": ("0", "query_cache_entries", 0),
    "MEIMAGES_CACHE_BYTES": ("1048576", "cache_bytes", 1048576),
    "MEIMAGES_COMPILED_READS": ("false", "compiled_reads", False),
    "MEIMAGES_COMPILED_MUTATIONS": ("false", "compiled_mutations", False),
    "MEIMAGES_MCP_STATELESS": ("on", "mcp_stateless", True),
    "MEIMAGES_OPENAI_API_KEY": (" sk-1 ", "openai_api_key", "sk-1"),
    "MEIMAGES_OPENAI_BASE_URL": (
        "http://127.0.0.1:7860/",
        "openai_base_url",
        "http://127.0.0.1:7860",
    ),
    "MEIMAGES_GEMINI_API_KEY": ("AIza-1", "gemini_api_key", "AIza-1"),
    "MEIMAGES_GEMINI_BASE_URL": ("http://gem/", "gemini_base_url", "http://gem"),
    "MEIMAGES_GENERATION_TIMEOUT": ("30.5", "generation_timeout_s", 30.5),
    "MEIMAGES_GENERATION_MAX_REQUEST_BYTES": ("4096", "generation_max_request_bytes", 4096),
    "MEIMAGES_INITIAL_CREDITS": ("25", "initial_credits", 25),
    "MEIMAGES_GENERATION_SWEEP_INTERVAL": ("15", "generation_sweep_interval_s", 15.0),
    "MEIMAGES_ALLOWED_PROVIDERS": ("OpenAI, gemini", "allowed_providers", ("openai", "gemini")),
    "MEIMAGES_COMFYUI_URL": ("http://gpu-box:8188/", "comfyui_url", "http://gpu-box:8188"),
    "MEIMAGES_COMFYUI_WORKFLOWS": (
        str(EXAMPLE_WORKFLOW),
        "comfyui_workflows",
        (str(EXAMPLE_WORKFLOW),),
    ),
    "MEIMAGES_COMFYUI_TIMEOUT": ("900", "comfyui_timeout_s", 900.0),
    "MEIMAGES_WS_INIT_TIMEOUT": ("1.5", "ws_init_timeout_s", 1.5),
    "MEIMAGES_WS_PING_INTERVAL": ("2.5", "ws_ping_interval_s", 2.5),
    "MEIMAGES_WS_PING_TIMEOUT": ("3", "ws_ping_timeout_s", 3.0),
    "MEIMAGES_BODY_IDLE_TIMEOUT": ("4", "body_idle_timeout_s", 4.0),
    "MEIMAGES_BODY_TIMEOUT": ("60", "body_timeout_s", 60.0),
    "MEIMAGES_WS_MAX_MESSAGE_BYTES": ("1024", "ws_max_message_bytes", 1024),
    "MEIMAGES_EVENT_RETENTION_DAYS": ("0.5", "event_retention_days", 0.5),
    "MEIMAGES_BLOB_URL": (
        " s3://b/p?endpoint=http://s3 ",
        "blob_url",
        "s3://b/p?endpoint=http://s3",
    ),
    "MEIMAGES_S3_ACCESS_KEY_ID": ("AKIAEXAMPLE", "s3_access_key_id", "AKIAEXAMPLE"),
    "MEIMAGES_S3_SECRET_ACCESS_KEY": (
        "s3-secret-access-key",
        "s3_secret_access_key",
        "s3-secret-access-key",
    ),
    "MEIMAGES_S3_SESSION_TOKEN": (
        "FwoGZXIvYXdz-session",
        "s3_session_token",
        "FwoGZXIvYXdz-session",
    ),
    "MEIMAGES_GC_GRACE": ("0", "gc_grace_s", 0),
    "MEIMAGES_GC_INTERVAL": ("120", "gc_interval_s", 120),
    "MEIMAGES_LOG_FORMAT": ("JSON", "log_format", "json"),
    "MEIMAGES_METRICS_TOKEN": (" m-token ", "metrics_token", "m-token"),
    "MEIMAGES_TRUSTED_PROXIES": ("10.0.0.0/8, ::1", "trusted_proxies", ("10.0.0.0/8", "::1")),
    "MEIMAGES_RATE_REQUESTS_PER_SECOND": ("0", "rate_requests_per_second", 0),
    "MEIMAGES_RATE_UPLOADS_PER_MINUTE": ("6", "rate_uploads_per_minute", 6),
    "MEIMAGES_RATE_GENERATIONS_PER_HOUR": ("10", "rate_generations_per_hour", 10),
    "MEIMAGES_RATE_GENERATIONS_PER_DAY": ("40", "rate_generations_per_day", 40),
    "MEIMAGES_REDIS_URL": (" redis://:pw@cache:6379/2 ", "redis_url", "redis://:pw@cache:6379/2"),
    "MEIMAGES_REDIS_KEY_PREFIX": ("prod-a", "redis_key_prefix", "prod-a"),
    "MEIMAGES_MAX_QUERY_COST": ("800", "max_query_cost", 800),
    "MEIMAGES_TRUSTED_DOCUMENTS": ("Require", "trusted_documents", "require"),
    "MEIMAGES_TRUSTED_DOCUMENTS_FILE": (
        "/srv/td.json",
        "trusted_documents_file",
        Path("/srv/td.json"),
    ),
    "MEIMAGES_EXPORT_DIR": ("/srv/exports", "export_dir", Path("/srv/exports")),
    "MEIMAGES_ERASURE_JOURNAL": (
        "/safe/erasures.jsonl",
        "erasure_journal",
        Path("/safe/erasures.jsonl"),
    ),
    "MEIMAGES_EXPORT_TTL": ("7200", "export_ttl_s", 7200),
    "MEIMAGES_MAX_IMPORT_BYTES": ("1048576", "max_import_bytes", 1048576),
    "MEIMAGES_SELF_DELETION": ("false", "self_deletion", False),
    "MEIMAGES_SIGNING_CERT_FILE": (
        "/etc/meimages/c2pa.pem",
        "signing_cert_file",
        Path("/etc/meimages/c2pa.pem"),
    ),
    "MEIMAGES_SIGNING_KEY_FILE": (
        "/etc/meimages/c2pa.key",
        "signing_key_file",
        Path("/etc/meimages/c2pa.key"),
    ),
}
BOOLEANS = (
    "MEIMAGES_PRODUCTION",
    "MEIMAGES_INTROSPECTION",
    "MEIMAGES_GRAPHIQL",
    "MEIMAGES_MCP_STATELESS",
)
SECRETS = (
    "MEIMAGES_DATABASE_URL",
    "MEIMAGES_MASTER_KEY",
    "MEIMAGES_PREVIOUS_MASTER_KEYS",
    "MEIMAGES_JWT_SECRET",
    "MEIMAGES_URL_SECRET",
    "MEIMAGES_OPENAI_API_KEY",
    "MEIMAGES_GEMINI_API_KEY",
    "MEIMAGES_S3_ACCESS_KEY_ID",
    "MEIMAGES_S3_SECRET_ACCESS_KEY",
    "MEIMAGES_S3_SESSION_TOKEN",
    "MEIMAGES_REDIS_URL",
)


def config_error(env: dict[str, str], **overrides: object) -> str:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env, **overrides)
    return str(caught.value)


def test_the_table_covers_every_setting() -> None:
    assert {attr for _, attr, _ in EVERY_VARIABLE.values()} == set(Settings.model_fields)
    assert {Settings.variable(name) for name in Settings.model_fields} == set(EVERY_VARIABLE)


def test_every_variable_is_parsed() -> None:
    settings = Settings.from_env({name: raw for name, (raw, _, _) in EVERY_VARIABLE.items()})
    for name, (_, attr, expected) in EVERY_VARIABLE.items():
        assert getattr(settings, attr) == expected, name


@pytest.mark.parametrize("name", sorted(EVERY_VARIABLE))
def test_each_variable_alone(name: str) -> None:
    raw, attr, expected = EVERY_VARIABLE[name]
    assert getattr(Settings.from_env({name: raw}), attr) == expected


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEIMAGES_MEDIA_URL_TTL", "120")
    assert Settings.from_env().media_url_ttl_s == 120
    # The constructor takes only what it is given: tests and tools stay independent of
    # whatever the shell exported.
    assert Settings().media_url_ttl_s == 3600


def test_empty_means_unset_and_overrides_win() -> None:
    settings = Settings.from_env(
        {"MEIMAGES_PORT": "", "MEIMAGES_HOST": "0.0.0.0", "MEIMAGES_DATA_DIR": "/env"},
        host="127.0.0.1",
        data_dir=Path("/cli"),
    )
    assert (settings.port, settings.host, settings.data_dir) == (8000, "127.0.0.1", Path("/cli"))


@pytest.mark.parametrize("name", BOOLEANS)
def test_booleans_take_the_usual_spellings(name: str) -> None:
    attr = EVERY_VARIABLE[name][1]
    for raw in ("true", "1", "yes", "on", "TRUE", " On "):
        assert getattr(Settings.from_env({name: raw}), attr) is True, raw
    for raw in ("false", "0", "no", "off", "False", " OFF "):
        assert getattr(Settings.from_env({name: raw}), attr) is False, raw


@pytest.mark.parametrize("name", BOOLEANS)
@pytest.mark.parametrize("raw", ["ture", "t", "y", "n", "2", "enabled", "yes please"])
def test_a_typo_in_a_boolean_is_refused_not_false(name: str, raw: str) -> None:
    message = config_error({name: raw})
    assert message.startswith(f"{name}: expected true/false, 1/0, yes/no or on/off"), message
    assert repr(raw) in message


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("MEIMAGES_PORT", "80a"),
        ("MEIMAGES_PORT", "70000"),
        ("MEIMAGES_PORT", "-1"),
        ("MEIMAGES_WORKERS", "0"),
        ("MEIMAGES_WORKERS", "two"),
        ("MEIMAGES_DB_POOL_SIZE", "0"),
        ("MEIMAGES_MAX_UPLOAD_BYTES", "10MB"),
        ("MEIMAGES_MAX_UPLOAD_BYTES", "0"),
        ("MEIMAGES_MAX_IMAGE_PIXELS", "4e7"),
        ("MEIMAGES_MAX_QUERY_DEPTH", "ten"),
        ("MEIMAGES_MAX_ALIASES", "-3"),
        ("MEIMAGES_MAX_TOKENS", "1.5"),
        ("MEIMAGES_QUERY_CACHE_ENTRIES", "-1"),
        ("MEIMAGES_INITIAL_CREDITS", "-5"),
        ("MEIMAGES_WS_MAX_MESSAGE_BYTES", "64k"),
        ("MEIMAGES_GENERATION_MAX_REQUEST_BYTES", "lots"),
        ("MEIMAGES_POOL_SNAPSHOTS", "many"),
        ("MEIMAGES_MAX_TRANSFORM_PX", "0"),
        # Seconds, as documented: no units, no fractions, no negatives; the TTL not 0.
        ("MEIMAGES_MEDIA_URL_TTL", "1h"),
        ("MEIMAGES_MEDIA_URL_TTL", "0"),
        ("MEIMAGES_MEDIA_URL_TTL", "-60"),
        ("MEIMAGES_MEDIA_URL_TTL", "1.5"),
        ("MEIMAGES_GC_GRACE", "1h"),
        ("MEIMAGES_GC_INTERVAL", "-1"),
        ("MEIMAGES_LOG_FORMAT", "yaml"),
        ("MEIMAGES_TRUSTED_PROXIES", "proxy.internal"),
        ("MEIMAGES_GENERATION_TIMEOUT", "3m"),
        ("MEIMAGES_GENERATION_TIMEOUT", "0"),
        ("MEIMAGES_GENERATION_TIMEOUT", "nan"),
        ("MEIMAGES_WS_INIT_TIMEOUT", "inf"),
        ("MEIMAGES_DECODE_TIMEOUT", "-1"),
        ("MEIMAGES_EVENT_RETENTION_DAYS", "-1"),
        ("MEIMAGES_EVENT_RETENTION_DAYS", "30d"),
        ("MEIMAGES_LOG_LEVEL", "verbose"),
        ("MEIMAGES_JWT_ALGORITHMS", "HS256,none"),
        ("MEIMAGES_JWT_ALGORITHMS", "HS265"),
    ],
)
def test_a_bad_value_is_refused_with_the_variable_named(name: str, raw: str) -> None:
    message = config_error({name: raw})
    assert message.startswith(f"{name}: "), message
    assert "\n" not in message


def test_every_problem_is_reported_at_once() -> None:
    message = config_error({"MEIMAGES_PORT": "x", "MEIMAGES_PRODUCTION": "ture"})
    assert "MEIMAGES_PORT: " in message and "MEIMAGES_PRODUCTION: " in message
    assert "\n" not in message


def test_an_override_is_named_as_itself() -> None:
    assert config_error({}, port=70000).startswith("port: ")


@pytest.mark.parametrize("name", ["MEIMAGES_MASTER_KEY", "MEIMAGES_PREVIOUS_MASTER_KEYS"])
def test_a_malformed_master_key_is_refused_without_echoing_it(name: str) -> None:
    raw = "not-a-key-but-maybe-a-secret"
    message = config_error({name: raw})
    assert message.startswith(f"{name}: expected a base64-encoded 32-byte key"), message
    assert raw not in message


def test_secrets_stay_out_of_the_repr() -> None:
    env = {name: EVERY_VARIABLE[name][0] for name in SECRETS}
    settings = Settings.from_env(env)
    text = repr(settings) + str(settings)
    for name in SECRETS:
        attr = EVERY_VARIABLE[name][1]
        assert attr not in text, name
        for value in (
            EVERY_VARIABLE[name][2] if name.endswith("KEYS") else [getattr(settings, attr)]
        ):
            assert value not in text, name


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]
    filled = Settings(data_dir=Path("x"), jwt_secret="a", url_secret="b").with_local_secrets()
    assert filled.jwt_secret == "a"


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(extra={"a": "b"})  # type: ignore[call-arg]


def test_a_jwks_url_switches_the_default_algorithms() -> None:
    assert Settings().jwt_algorithms == ("HS256",)
    jwks = {"MEIMAGES_JWT_JWKS_URL": "https://idp/jwks"}
    assert Settings.from_env(jwks).jwt_algorithms == ("RS256", "ES256", "EdDSA")
    chosen = {**jwks, "MEIMAGES_JWT_ALGORITHMS": "ES384"}
    assert Settings.from_env(chosen).jwt_algorithms == ("ES384",)


def test_limits_come_from_the_settings() -> None:
    assert Settings().limits() == Limits()
    limits = Settings.from_env(
        {
            "MEIMAGES_MAX_UPLOAD_BYTES": "1000",
            "MEIMAGES_MAX_IMAGE_PIXELS": "2000",
            "MEIMAGES_DECODE_TIMEOUT": "3",
            "MEIMAGES_MAX_TRANSFORM_PX": "512",
            "MEIMAGES_POOL_SNAPSHOTS": "7",
            "MEIMAGES_POOL_CAP": "25",
        }
    ).limits()
    assert limits == Limits(
        max_upload_bytes=1000,
        max_image_pixels=2000,
        decode_timeout_s=3.0,
        max_transform_px=512,
        pool_snapshots=7,
        pool_cap=25,
    )


# --- The README's tables --------------------------------------------------------------

# Defaults the README describes in words (derived from the data dir, generated, or
# meaning "off"): the raw setting is empty and something else fills it in.
DESCRIBED = {
    "MEIMAGES_DATABASE_URL",
    "MEIMAGES_BLOB_DIR",
    "MEIMAGES_MASTER_KEY",
    "MEIMAGES_JWT_SECRET",
    "MEIMAGES_URL_SECRET",
    "MEIMAGES_EXPORT_DIR",
    "MEIMAGES_SIGNING_CERT_FILE",
    "MEIMAGES_SIGNING_KEY_FILE",
    "MEIMAGES_ERASURE_JOURNAL",
}
EFFECTIVE = {
    "MEIMAGES_OPENAI_BASE_URL": OPENAI_DEFAULT_BASE_URL,
    "MEIMAGES_GEMINI_BASE_URL": GEMINI_DEFAULT_BASE_URL,
}


def documented_rows() -> list[tuple[list[str], str]]:
    """(variables, default cell) of every README table row that names variables; a row
    with an empty default (a pointer to another section) is left to that section."""
    rows = []
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and (names := re.findall(r"`(MEIMAGES_[A-Z0-9_]+)`", cells[0])):
            rows.append((names, cells[1]))
    return rows


def test_the_readme_documents_every_variable() -> None:
    assert {name for names, _ in documented_rows() for name in names} == set(EVERY_VARIABLE)


def test_defaults_are_the_documented_ones() -> None:
    defaults = Settings()
    checked = set()
    for names, cell in documented_rows():
        if not cell:
            continue
        literals = re.findall(r"`([^`]*)`", cell)
        for index, name in enumerate(names):
            value = getattr(defaults, EVERY_VARIABLE[name][1])
            if name in EFFECTIVE:
                assert literals == [EFFECTIVE[name]] and value == "", name
            elif name in DESCRIBED or not literals:
                assert value in ("", None, ()), (name, cell, value)
            else:
                assert len(literals) == len(names), (cell, names)
                assert_same(value, literals[index], name)
            checked.add(name)
    assert checked == set(EVERY_VARIABLE)
    assert defaults.resolved_blob_dir == Path("data/media")


def assert_same(value: object, documented: str, name: str) -> None:
    if isinstance(value, bool):
        assert documented == str(value).lower(), name
    elif isinstance(value, int | float):
        assert float(documented) == value, name
    elif isinstance(value, tuple):
        assert documented == ",".join(value), name
    elif isinstance(value, Path):
        assert Path(documented) == value, name
    else:
        assert documented == value, name


# --- The command line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MEIMAGES_PRODUCTION": "ture"}, ["MEIMAGES_PRODUCTION"]),
        (
            {"MEIMAGES_MEDIA_URL_TTL": "1h", "MEIMAGES_MAX_UPLOAD_BYTES": "10MB"},
            ["MEIMAGES_MEDIA_URL_TTL", "MEIMAGES_MAX_UPLOAD_BYTES"],
        ),
        ({"MEIMAGES_LOG_LEVEL": "loud"}, ["MEIMAGES_LOG_LEVEL"]),
    ],
)
def test_serve_stops_before_binding_with_one_line(
    tmp_path: Path, env: dict[str, str], named: list[str]
) -> None:
    data_dir = tmp_path / "data"
    clean = clean_environment()
    done = subprocess.run(
        [str(MEIMAGES), "serve", "--port", str(free_port()), "--data-dir", str(data_dir)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("meimages: invalid configuration: " + named[0] + ": ")
    assert all(name + ": " in lines[0] for name in named)
    # Nothing was started: no banner, no data dir created, so no app and no socket.
    assert done.stdout == ""
    assert not data_dir.exists()


def test_serve_hands_the_log_level_to_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setattr(gc, "freeze", lambda: None)  # serve freezes its own process's GC
    monkeypatch.setattr(gc, "set_threshold", lambda *limits: seen.update(gc_threshold=limits))
    # serve configures the process's root logger (level and handler); this process's
    # later tests get it back as it was, not at DEBUG with every library's records kept.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "setLevel", lambda level: seen.update(root_level=level))
    for name in EVERY_VARIABLE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEIMAGES_LOG_LEVEL", "Debug")
    assert cli.main(["serve", "--data-dir", str(tmp_path), "--port", "1234"]) == 0
    assert seen["log_level"] == "debug" and seen["port"] == 1234
    assert seen["root_level"] == logging.DEBUG
    assert seen["gc_threshold"][0] == YOUNG_GC_THRESHOLD
