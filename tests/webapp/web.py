"""Where the web app's source and build live, and its own npm packages (web/)."""

from __future__ import annotations

from pathlib import Path

from tests.support.node import ROOT, ensure_node_modules

WEB = ROOT / "web"
APP_DIR = ROOT / "api" / "static" / "app"


def ensure_web_modules() -> Path:
    """`npm ci` in web/ unless web/node_modules already matches its lock file."""
    return ensure_node_modules(WEB)
