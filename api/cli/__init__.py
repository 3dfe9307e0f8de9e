"""The `meimages` command line."""

# One module per group of commands; `arguments` and `setup` are what they share.

from __future__ import annotations

import argparse
import logging
import sys

from api.cli import cleanup, credits, documents, keys, mcp, operations, portability, serving
from api.settings import ConfigError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meimages", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    # In the order `meimages --help` lists them.
    serving.add_serve(sub)
    serving.add_token(sub)
    documents.add_commands(sub)
    keys.add_migrate(sub)
    mcp.add_mcp(sub)
    keys.add_rotate_master_key(sub)
    credits.add_commands(sub)
    cleanup.add_commands(sub)
    portability.add_portability_commands(sub)
    operations.add_operations_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Alembic announces each of its built-in plugins at INFO when imported: not news.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        # Before anything starts: one line naming the variable, no traceback.
        print(f"meimages: invalid configuration: {exc}", file=sys.stderr)
        return 2
