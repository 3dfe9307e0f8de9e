"""Checks by tools nobody on this project wrote: graphql-http's audit, codegen + tsc --strict."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.server import LiveServer
from tests.support.node import ROOT, ensure_node_modules


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return ensure_node_modules()


def test_graphql_over_http_audit_all_ok(node_modules: Path, live_server: LiveServer) -> None:
    out = subprocess.run(
        [
            "node",
            str(ROOT / "tests/conformance/audit.mjs"),
            f"{live_server.url}/graphql",
            live_server.token("auditor"),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    results = json.loads(out)
    not_ok = [r for r in results if r["status"] != "ok"]
    assert not_ok == []
    assert len(results) == 61


def test_codegen_and_strict_typescript(node_modules: Path, tmp_path: Path) -> None:
    generated = ROOT / "clients" / "generated"
    shutil.rmtree(generated, ignore_errors=True)
    subprocess.run(
        ["npx", "--no-install", "graphql-codegen", "--config", "clients/codegen.yml"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=180,
    )
    assert (generated / "graphql.ts").exists() and (generated / "schema.ts").exists()
    result = subprocess.run(
        ["npx", "--no-install", "tsc", "-p", "clients/tsconfig.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
