"""What a server prints about itself: its GraphQL schema, the settings in effect, and the
manifest of its clients' trusted documents."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.cli.arguments import DATA_DIR_HELP, data_dir
from api.cli.setup import refuse as _refuse
from api.cli.setup import settings_of as _settings
from api.settings import Settings


def cmd_export_schema(args: argparse.Namespace) -> int:
    from schema import export_sdl

    sdl = export_sdl()
    if args.output:
        try:
            Path(args.output).write_text(sdl)
        except OSError as exc:
            return _refuse(args, f"cannot write {args.output}: {exc.strerror}")
    else:
        sys.stdout.write(sdl)
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    for variable, value in settings.effective():
        print(f"{variable}={value}")
    for name in Settings.unknown_variables():
        print(f"meimages: warning: {name} is not a meimages setting; ignored", file=sys.stderr)
    return 0


def cmd_trusted_documents(args: argparse.Namespace) -> int:
    from graphql import GraphQLSyntaxError

    from api.trusted_documents import (
        DEFAULT_SOURCES,
        build_manifest,
        render_manifest,
        source_files,
    )

    roots = [Path(p) for p in (args.sources or DEFAULT_SOURCES)]
    if missing := [str(root) for root in roots if not root.is_dir()]:
        return _refuse(args, f"no such folder: {', '.join(missing)} (run it in the repository)")
    try:
        text = render_manifest(build_manifest(source_files(roots)))
    except GraphQLSyntaxError as exc:
        return _refuse(args, f"a document does not parse: {exc.message}")
    if args.output:
        try:
            Path(args.output).write_text(text)
        except OSError as exc:
            return _refuse(args, f"cannot write {args.output}: {exc.strerror}")
    else:
        sys.stdout.write(text)
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """export-schema, config and trusted-documents."""
    export = sub.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", "-o", default=None, help="write to a file instead")
    export.set_defaults(func=cmd_export_schema, prog=export.prog)

    config = sub.add_parser("config", help="print the settings in effect (secrets hidden)")
    config.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    config.set_defaults(func=cmd_config, prog=config.prog)
    trusted = sub.add_parser(
        "trusted-documents",
        help="print the manifest of our clients' operations (api/trusted_documents.json)",
    )
    trusted.add_argument("--output", "-o", default=None, help="write to a file instead")
    trusted.add_argument(
        "sources", nargs="*", help="folders of *.graphql (default: clients/operations web/src/lib)"
    )
    trusted.set_defaults(func=cmd_trusted_documents, prog=trusted.prog)
