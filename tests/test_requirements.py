"""The lock files and pyproject.toml tell the same story: runtime pins in requirements.lock
(what `scripts/serve` installs), development tools only in requirements-dev.lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")


def name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def pins(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = PIN.fullmatch(line)
        assert match, f"not an exact pin: {line!r}"
        out[name(match[1])] = match[2]
    return out


def lock(file: str) -> tuple[list[str], dict[str, str]]:
    lines = (ROOT / file).read_text().splitlines()
    return [line.strip() for line in lines if line.startswith("-")], pins(lines)


def test_pyproject_pins_match_the_locks() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime_options, runtime = lock("requirements.lock")
    dev_options, dev_only = lock("requirements-dev.lock")
    assert runtime_options == []
    assert dev_options == ["-r requirements.lock"]  # dev = runtime + its own pins
    assert not runtime.keys() & dev_only.keys()

    declared = pins(project["dependencies"])
    assert {k: runtime.get(k) for k in declared} == declared
    declared_dev = pins(project["optional-dependencies"]["dev"])
    assert {k: dev_only.get(k) for k in declared_dev} == declared_dev
    assert not declared_dev.keys() & runtime.keys(), "a development tool in the runtime lock"
