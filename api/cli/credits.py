"""`meimages credits grant|show`: an owner's generation credits (administration)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from api.cli.arguments import DATA_DIR_HELP, data_dir
from api.cli.setup import missing_state as _missing_state
from api.cli.setup import refuse_missing as _refuse_missing
from api.cli.setup import settings_of as _settings


def cmd_credits(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if missing := _missing_state(settings):
        return _refuse_missing(args, settings, missing)

    from resolvers.errors import InvalidInput
    from resolvers.generation import credits
    from storage import migrate
    from storage.db import Database

    config = settings.generation_config()

    async def run() -> int:
        db = Database(settings.resolved_database_url)
        try:
            await migrate.upgrade(db)
            if args.credits_command == "grant":
                return await credits.grant(db, config, args.user, args.amount, args.note)
            return await credits.show(db, config, args.user)
        finally:
            await db.dispose()

    try:
        balance = asyncio.run(run())
    except InvalidInput as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if args.credits_command == "grant":
        print(f"granted {args.amount} credits to {args.user!r}; available now: {balance}")
    else:
        print(f"{args.user!r} has {balance} credits available")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    credit = sub.add_parser("credits", help="generation credits of an owner (administration)")
    credit_sub = credit.add_subparsers(dest="credits_command", required=True)
    grant = credit_sub.add_parser("grant", help="add credits to an owner's balance")
    grant.add_argument("--user", required=True, help="owner id (the `sub` claim)")
    grant.add_argument("amount", type=int, help="credits to add (positive)")
    grant.add_argument("--note", default=None, help="why, kept in the ledger")
    grant.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    grant.set_defaults(func=cmd_credits, prog=grant.prog)
    show = credit_sub.add_parser("show", help="print an owner's available credits")
    show.add_argument("--user", required=True, help="owner id (the `sub` claim)")
    show.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    show.set_defaults(func=cmd_credits, prog=show.prog)
