"""Libraries' internals are touched in one small module per library (a fence), and each
fence was written for the installed version of its library.

When a pin moves, the version test names the fence to re-read; the scan fails when a
private name or an unexported module of one of those libraries is used anywhere else in
the product code.
"""

from __future__ import annotations

import importlib
import re
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCES = (
    "api.compiler.graphql_core",
    "api.pydantic_settings_compat",
    "api.views.graphql_transport",
    "api.websocket_protocol",
    "schema.strawberry_compat",
    "storage.sqlite_driver",
)
# What only a fence may write: private attributes and unexported modules of the fenced
# libraries (the private-API touch points).
INTERNALS = re.compile(
    r"(?<!self)\._schema\b|_implements_resolve|_raw_info|_is_default|(?<!self)\._execute\("
    r"|(?<!self)\._conn\b|(?<!self)\._thread\b|_load_env_vars|build_resolve_info|hide_suggestions|fragment_variable_values"
    r"|graphql\.execution\.|graphql\.pyutils|strawberry\.schema\.schema|strawberry\.execution\."
    r"|pydantic_settings\.sources|uvicorn\._|uvicorn\.protocols|strawberry\.http\.streaming"
    r"|strawberry\.subscriptions\.protocols|ASGIWebSocketAdapter|StarletteRequestAdapter"
)
PRODUCT = ("api", "schema", "resolvers", "storage")


def _fence(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize("name", FENCES)
def test_each_fence_was_written_for_the_installed_version(name: str) -> None:
    written_for: dict[str, str] = _fence(name).WRITTEN_FOR
    assert written_for, f"{name} names no library"
    for library, prefix in written_for.items():
        installed = version(library)
        assert installed.startswith(prefix), (
            f"{name} was written for {library} {prefix}*, but {installed} is installed: "
            f"re-read the internals its docstring lists against {library} {installed}, "
            f"then update WRITTEN_FOR"
        )


def test_fenced_libraries_are_pinned_in_pyproject() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    for name in FENCES:
        for library in _fence(name).WRITTEN_FOR:
            assert re.search(rf'"{re.escape(library)}(\[[^\]]*\])?==', pyproject, re.I), (
                f"{library} (fenced in {name}) is not pinned in pyproject.toml"
            )


def test_internals_are_touched_only_in_the_fences() -> None:
    fences = {ROOT / (name.replace(".", "/") + ".py") for name in FENCES}
    outside = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for floor in PRODUCT
        for path in sorted((ROOT / floor).rglob("*.py"))
        if path not in fences and "migrations" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if INTERNALS.search(line.split("#", 1)[0])
    ]
    assert outside == [], "library internals outside their fence:\n" + "\n".join(outside)


def test_the_scan_sees_a_touch_point() -> None:
    """Not vacuous: the pattern finds what the fences hold."""
    assert INTERNALS.search((ROOT / "storage/sqlite_driver.py").read_text())
    assert INTERNALS.search((ROOT / "schema/strawberry_compat.py").read_text())
