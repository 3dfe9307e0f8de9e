"""`meimages config`: the settings in effect with secrets hidden; bad values stop it with
the variable named; unknown MEIMAGES_* names are warned about, by `config` and `serve`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from testbed.server import MEIMAGES, clean_environment, start_server


def _config(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = clean_environment({"MEIMAGES_DATA_DIR": str(tmp_path), **variables})
    return subprocess.run(
        [str(MEIMAGES), "config"], env=env, capture_output=True, text=True, timeout=60
    )


def test_config_prints_what_is_in_effect_and_hides_secrets(tmp_path: Path) -> None:
    secrets = {
        "MEIMAGES_JWT_SECRET": "jwt-secret-canary-1",
        "MEIMAGES_URL_SECRET": "url-secret-canary-2",
        "MEIMAGES_METRICS_TOKEN": "metrics-canary-3",
        "MEIMAGES_OPENAI_API_KEY": "sk-canary-4",
        "MEIMAGES_DATABASE_URL": "postgresql://me:password-canary-5@db.internal/meimages",
    }
    done = _config(tmp_path, MEIMAGES_PORT="9001", MEIMAGES_LOG_FORMAT="json", **secrets)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert lines["MEIMAGES_PORT"] == "9001"
    assert lines["MEIMAGES_LOG_FORMAT"] == "json"
    assert lines["MEIMAGES_DATA_DIR"] == str(tmp_path)
    assert lines["MEIMAGES_MAX_UPLOAD_BYTES"] == "10485760"  # defaults shown too
    for name in secrets:
        assert lines[name] == "(set, hidden)", name
    assert lines["MEIMAGES_GEMINI_API_KEY"] == "(unset)"
    for value in secrets.values():
        assert value not in done.stdout + done.stderr
    assert done.stderr == ""


def test_a_bad_value_stops_config_with_the_variable_named(tmp_path: Path) -> None:
    done = _config(tmp_path, MEIMAGES_TRUSTED_PROXIES="proxy.internal")
    assert done.returncode == 2
    assert done.stderr.startswith("meimages: invalid configuration: MEIMAGES_TRUSTED_PROXIES: ")
    assert done.stdout == ""


def test_unknown_variables_are_warned_about_with_the_closest_name(tmp_path: Path) -> None:
    done = _config(tmp_path, MEIMAGES_LOG_FROMAT="json")
    assert done.returncode == 0
    assert (
        "meimages: warning: MEIMAGES_LOG_FROMAT (did you mean MEIMAGES_LOG_FORMAT?)"
        " is not a meimages setting" in done.stderr
    )


def test_serve_warns_about_unknown_variables_at_start_up(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"MEIMAGES_METRICS_TOKN": "x"})
    try:
        log = server.log_tail()
    finally:
        server.stop()
    assert "MEIMAGES_METRICS_TOKN (did you mean MEIMAGES_METRICS_TOKEN?)" in log
