"""The web app's own npm packages (web/package-lock.json), installed once for the tests."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

from testbed.server import ROOT

WEB = ROOT / "web"
APP_DIR = ROOT / "api" / "static" / "app"


def ensure_web_modules() -> Path:
    """`npm ci` in web/ unless web/node_modules already matches its lock file."""
    if shutil.which("npm") is None:
        raise RuntimeError("npm is required for the web app tests")
    lock = WEB / "package-lock.json"
    stamp = WEB / "node_modules" / ".meimages-lock-stamp"
    wanted = hashlib.sha256(lock.read_bytes()).hexdigest()
    with open(ROOT / ".npm-install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one installer at a time
        if not stamp.exists() or stamp.read_text() != wanted:
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=WEB,
                check=True,
                timeout=900,
            )
            stamp.write_text(wanted)
    return WEB / "node_modules"
