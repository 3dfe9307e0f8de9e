"""`meimages mcp`: the MCP server over stdio, for one owner (desktop agents)."""

from __future__ import annotations

import argparse
import asyncio

from api.cli.arguments import DATA_DIR_HELP, data_dir
from api.cli.setup import missing_state as _missing_state
from api.cli.setup import refuse as _refuse
from api.cli.setup import refuse_missing as _refuse_missing
from api.cli.setup import settings_of as _settings


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server over stdio for one caller: `--user` on the embedded setup, or `--token`."""
    settings = _settings(args)
    if missing := _missing_state(settings, keys=True):
        return _refuse_missing(args, settings, missing)
    if (args.user is None) == (args.token is None):
        return _refuse(args, "give either --user ID [--space ID] or --token TOKEN")

    from api.auth import AuthError
    from api.mcp.stdio import caller_from_token, serve_stdio
    from resolvers.stores import PERSONAL_SPACE, Caller

    if args.token is not None:
        try:
            caller = asyncio.run(caller_from_token(settings, args.token))
        except AuthError as exc:
            return _refuse(args, str(exc))
    else:
        caller = Caller(args.user, args.space or PERSONAL_SPACE)
    asyncio.run(serve_stdio(settings, caller))
    return 0


def add_mcp(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mcp = sub.add_parser("mcp", help="serve MCP over stdio for one owner (desktop agents)")
    mcp.add_argument("--user", default=None, help="owner id, trusted as given (local use)")
    mcp.add_argument("--space", default=None, help="with --user: space id (default: personal)")
    mcp.add_argument("--token", default=None, help="act as this bearer token's owner and space")
    mcp.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    mcp.set_defaults(func=cmd_mcp, prog=mcp.prog)
