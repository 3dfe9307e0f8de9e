"""`meimages gc` and `meimages purge`: removing what is no longer needed (deleted
images, whole owners, orphaned blobs)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from api.cli.arguments import DATA_DIR_HELP, data_dir, duration
from api.cli.setup import missing_state as _missing_state
from api.cli.setup import refuse as _refuse
from api.cli.setup import refuse_missing as _refuse_missing
from api.cli.setup import run_with_stores as _run_with_stores
from api.cli.setup import settings_of as _settings


def cmd_gc(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from resolvers.lifecycle.garbage import collect_garbage

    settings = _settings(args)
    if missing := _missing_state(settings, keys=True, blobs=True):
        return _refuse_missing(args, settings, missing)
    grace = args.grace if args.grace is not None else settings.gc_grace_s

    async def job(stores: Any) -> Any:
        return await collect_garbage(stores, grace=timedelta(seconds=grace), sweep=args.sweep)

    report = _run_with_stores(settings, job)
    print(
        f"deleted {report.blobs_deleted} orphaned blobs (grace {grace} s); "
        f"{report.incomplete_removed} incomplete writes removed; "
        f"{report.untracked_registered} untracked blobs registered for a later run"
    )
    return 0


def _confirm_purge(args: argparse.Namespace) -> int:
    """Asks on a terminal before everything of an owner goes; scripts pass --yes. Returns
    the exit code of a refusal, or 0 once confirmed."""
    if not sys.stdin.isatty():
        return _refuse(
            args,
            f"this deletes everything of {args.user!r} in every space, for good; "
            "pass --yes to confirm (there is no terminal to ask on)",
        )
    print(
        f"This deletes everything of {args.user!r} in every space for good: images, media, "
        "history, exports and data keys (no backup can be read after it)."
    )
    try:
        answer = input(f"Type the owner id ({args.user}) to confirm: ")
    except EOFError:
        answer = ""
    if answer.strip() != args.user:
        return _refuse(args, f"not confirmed; nothing of {args.user!r} was deleted")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from resolvers.lifecycle.purge import purge_deleted_images, purge_owner

    if args.user is None and not args.deleted:
        return _refuse(args, "say what to purge: --user ID, or --deleted [--older-than 7d]")
    settings = _settings(args)
    if missing := _missing_state(settings, keys=True, blobs=True):
        return _refuse_missing(args, settings, missing)
    if args.user is not None and not args.yes and (refused := _confirm_purge(args)):
        return refused

    async def job(stores: Any) -> Any:
        if args.user is not None:
            return await purge_owner(stores, args.user)
        older_than = timedelta(seconds=args.older_than)
        return await purge_deleted_images(stores, older_than=older_than)

    report = _run_with_stores(settings, job)
    if args.user is not None:
        print(
            f"purged owner {args.user!r}: {report.images} images, {report.media_objects} media, "
            f"{report.blobs_deleted} blobs deleted; data keys destroyed"
        )
    else:
        print(
            f"purged {report.images} deleted images and {report.media_objects} unused media; "
            f"{report.blobs_orphaned} blobs left to the garbage collector"
        )
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Removing what is no longer needed: deleted images, whole owners, orphaned blobs."""
    gc = sub.add_parser("gc", help="delete media blobs no row has referenced for a grace period")
    gc.add_argument(
        "--grace", type=duration, default=None, help="e.g. 1h (default MEIMAGES_GC_GRACE, 1 h)"
    )
    gc.add_argument(
        "--sweep", action="store_true", help="also register blobs found in the store but unknown"
    )
    gc.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    gc.set_defaults(func=cmd_gc, prog=gc.prog)

    purge = sub.add_parser("purge", help="remove deleted images, or everything of one owner")
    purge.add_argument("--user", default=None, help="owner id: images, media and data keys")
    purge.add_argument(
        "--deleted", action="store_true", help="soft-deleted images and unattached uploads"
    )
    purge.add_argument(
        "--older-than", type=duration, default="7d", help="with --deleted: e.g. 0, 24h, 30d"
    )
    purge.add_argument("--yes", action="store_true", help="with --user: do not ask (for scripts)")
    purge.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    purge.set_defaults(func=cmd_purge, prog=purge.prog)
