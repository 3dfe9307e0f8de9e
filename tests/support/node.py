"""The npm packages the suite drives (graphql-http, graphql-ws, codegen, tsc), installed once."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure_node_modules() -> Path:
    """`npm ci` from package-lock.json unless node_modules already matches it."""
    if shutil.which("npm") is None:
        raise RuntimeError("npm is required for the conformance and client tests")
    lock = ROOT / "package-lock.json"
    stamp = ROOT / "node_modules" / ".meimages-lock-stamp"
    wanted = str(lock.stat().st_mtime_ns) + ":" + str(lock.stat().st_size)
    with open(ROOT / ".npm-install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one installer at a time
        if not stamp.exists() or stamp.read_text() != wanted:
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=ROOT,
                check=True,
                timeout=600,
            )
            stamp.write_text(wanted)
    return ROOT / "node_modules"
