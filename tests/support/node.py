"""npm packages the suite drives, installed once per lock file: the repo root's
(graphql-http, graphql-ws, codegen, tsc) and the web app's own (web/)."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure_node_modules(folder: Path = ROOT) -> Path:
    """`npm ci` in `folder` unless its node_modules already matches its package-lock.json."""
    if shutil.which("npm") is None:
        raise RuntimeError("npm is required for the conformance, client and web app tests")
    lock = folder / "package-lock.json"
    stamp = folder / "node_modules" / ".meimages-lock-stamp"
    wanted = hashlib.sha256(lock.read_bytes()).hexdigest()
    with open(ROOT / ".npm-install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one installer at a time
        if not stamp.exists() or stamp.read_text() != wanted:
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                check=True,
                timeout=900,
            )
            stamp.write_text(wanted)
    return folder / "node_modules"
