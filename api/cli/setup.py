"""What the `meimages` commands share before they run: their settings (the environment
and the command line), the checks that an existing installation is there, the refusal
the user can act on, and the stores the server itself would use."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from api.settings import Settings

# The data folder `scripts/serve` uses: named in the hint when another folder is empty.
SERVE_DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def refuse(args: argparse.Namespace, message: str) -> int:
    """An error the user can act on: one argparse-style line on stderr, exit code 2."""
    print(f"{args.prog}: error: {message}", file=sys.stderr)
    return 2


def data_dir_hint(settings: Settings) -> str:
    hint = "pass the server's data folder with --data-dir DIR or MEIMAGES_DATA_DIR=DIR"
    here = settings.data_dir.resolve()
    if here != SERVE_DATA_DIR and (SERVE_DATA_DIR / "secrets.json").is_file():
        hint += f" (`scripts/serve` uses --data-dir {SERVE_DATA_DIR})"
    return hint


def missing_state(settings: Settings, *, keys: bool = False, blobs: bool = False) -> str | None:
    """What of an existing installation is missing, or None: commands that read or change
    existing data must not quietly start an empty one in the wrong folder."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(url.database)
        if not database.is_file():
            return f"no meimages database at {database}"
    if keys and not settings.master_key and not settings.master_key_file.is_file():
        return f"no master keys at {settings.master_key_file.resolve()}"
    if blobs and not settings.blob_url and not settings.resolved_blob_dir.is_dir():
        return f"no media folder at {settings.resolved_blob_dir.resolve()}"
    return None


def refuse_missing(args: argparse.Namespace, settings: Settings, missing: str) -> int:
    return refuse(
        args,
        f"{missing}; {data_dir_hint(settings)}, or run `meimages serve` there once to create it",
    )


def settings_of(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return Settings.from_env(None, **overrides)


def run_with_stores(settings: Settings, job: Any) -> Any:
    """Build the same stores the server uses (database, keys, blob store) and run `job`."""
    from api.wiring import build_server
    from storage import migrate

    server = build_server(settings)

    async def run() -> Any:
        try:
            await migrate.upgrade(server.stores.db)
            return await job(server.stores)
        finally:
            await server.stores.blobs.close()
            await server.stores.db.dispose()

    return asyncio.run(run())
