"""The committed build (api/static/app) is exactly what web/ builds into: the packages of
web/'s lock file (`npm ci`), `npm run check` (svelte-check, strict TypeScript) and
`npm run build` from a copy of the sources in a temporary folder, then a byte-for-byte
comparison. Fails when someone changed web/ (or schema.graphql) without rebuilding.

The packages are web/'s own `npm ci` (run unless web/node_modules already matches the lock
file), hard-linked into the copy rather than installed a second time; `npm ls` there checks
that they are the ones package.json asks for, as `npm ci` refuses a lock file out of step.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.server import ROOT
from tests.webapp.web import APP_DIR, WEB, ensure_web_modules

SKIP = {"node_modules", "dist"}
# What the tools write into node_modules as they run: each copy starts without.
TOOL_CACHES = (".cache", ".vite-temp", ".vite")


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
def test_committed_build_matches_a_fresh_build_from_source(tmp_path: Path) -> None:
    shutil.copytree(
        WEB, tmp_path / "web", ignore=lambda _dir, names: [n for n in names if n in SKIP]
    )
    shutil.copy(ROOT / "schema.graphql", tmp_path / "schema.graphql")
    shutil.copytree(
        ensure_web_modules().resolve(),
        tmp_path / "web" / "node_modules",
        symlinks=True,
        copy_function=_link_or_copy,
        ignore=shutil.ignore_patterns(*TOOL_CACHES),
    )
    subprocess.run(["npm", "ls", "--loglevel=error"], cwd=tmp_path / "web", check=True, timeout=300)
    # Type check first: svelte-check (TypeScript strict) over every component and module.
    subprocess.run(["npm", "run", "check"], cwd=tmp_path / "web", check=True, timeout=600)
    subprocess.run(["npm", "run", "build"], cwd=tmp_path / "web", check=True, timeout=600)

    fresh, committed = _tree(tmp_path / "api/static/app"), _tree(APP_DIR)
    assert sorted(fresh) == sorted(committed), "rebuild web/ (npm run build) and commit the result"
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert changed == [], f"stale build, rebuild web/ and commit: {changed}"
    # The generated operation types are committed too, for readers and for svelte-check.
    generated = "src/generated/graphql.ts"
    assert filecmp.cmp(tmp_path / "web" / generated, WEB / generated, shallow=False), (
        "web/src/generated/graphql.ts is stale: npm run codegen in web/"
    )
