"""`meimages export` and `meimages import`: an owner's data as a zip, out and back in."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def cmd_export(args: argparse.Namespace) -> int:
    from api.cli import setup as cli
    from resolvers.portability.export import write_archive
    from resolvers.stores import PERSONAL_SPACE, Caller

    settings = cli.settings_of(args)
    if missing := cli.missing_state(settings, keys=True, blobs=True):
        return cli.refuse_missing(args, settings, missing)
    output = Path(args.output)
    if output.is_dir() or not output.parent.is_dir():
        return cli.refuse(args, f"cannot write the archive to {str(output)!r}")
    caller = Caller(args.user, args.space or PERSONAL_SPACE)

    async def job(stores: Any) -> Any:
        return await write_archive(stores, caller, output)

    summary = cli.run_with_stores(settings, job)
    print(
        f"exported {summary.images} images, {summary.generations} generations and "
        f"{summary.credit_entries} credit entries of {args.user!r} (space {caller.space_id!r}) "
        f"to {output} "
        f"({summary.byte_size} bytes)"
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from api.cli import setup as cli
    from resolvers.portability.errors import InvalidArchive
    from resolvers.portability.restore import import_archive
    from resolvers.stores import PERSONAL_SPACE, Caller

    settings = cli.settings_of(args)
    if missing := cli.missing_state(settings, keys=True, blobs=True):
        return cli.refuse_missing(args, settings, missing)
    source = Path(args.file)
    if not source.is_file():
        return cli.refuse(args, f"no archive at {str(source)!r}")
    caller = Caller(args.user, args.space or PERSONAL_SPACE)

    async def job(stores: Any) -> Any:
        return await import_archive(stores, caller, source, keep_consent=args.keep_consent)

    try:
        report = cli.run_with_stores(settings, job)
    except InvalidArchive as exc:
        return cli.refuse(args, f"nothing imported: {exc.message} ({exc.problem.value})")
    consent = "kept" if report.consent_kept else "off for every image"
    print(
        f"imported {len(report.images)} images into {args.user!r}, space {caller.space_id!r}; "
        f"AI use {consent}"
    )
    return 0


def add_portability_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from api.cli.arguments import DATA_DIR_HELP, data_dir

    export = sub.add_parser("export", help="write an owner's pool and history to a zip")
    export.add_argument("--user", required=True, help="owner id (the `sub` claim)")
    export.add_argument("--space", default=None, help="space id (default: personal)")
    export.add_argument("--output", "-o", required=True, help="the zip file to write")
    export.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    export.set_defaults(func=cmd_export, prog=export.prog)

    restore = sub.add_parser("import", help="restore an export into an owner's pool")
    restore.add_argument("--user", required=True, help="owner id (the `sub` claim)")
    restore.add_argument("--space", default=None, help="space id (default: personal)")
    restore.add_argument(
        "--keep-consent", action="store_true", help="keep the archive's AI opt-ins (default: off)"
    )
    restore.add_argument("file", help="the zip made by `meimages export` or exportMyData")
    restore.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    restore.set_defaults(func=cmd_import, prog=restore.prog)
