"""The `meimages` command line."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import re
import sys
from pathlib import Path
from typing import Any

from api.command_setup import DATA_DIR_HELP, data_dir
from api.command_setup import data_dir_hint as _data_dir_hint
from api.command_setup import missing_state as _missing_state
from api.command_setup import refuse as _refuse
from api.command_setup import refuse_missing as _refuse_missing
from api.command_setup import run_with_stores as _run_with_stores
from api.command_setup import settings_of as _settings
from api.settings import ConfigError, Settings

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_DURATION_S = 3650 * 86400
_DURATION_HELP = "seconds, or a number with s, m, h or d, e.g. 30s, 15m, 2h, 7d"


def _seconds(text: str) -> int:
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration ({_DURATION_HELP})")
    seconds = float(match[1]) * _UNITS[match[2]]
    if seconds > _MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"{text!r} is too long (at most 3650d)")
    return int(seconds)


def positive_duration(text: str) -> int:
    """argparse type: a lifetime such as 30s, 15m, 2h, 7d (or plain seconds), above zero."""
    seconds = _seconds(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive duration ({_DURATION_HELP})")
    return seconds


def duration(text: str) -> int:
    """argparse type: an age such as 0, 30m, 24h, 7d (or plain seconds); zero allowed."""
    return _seconds(text)


def port(text: str) -> int:
    """argparse type: a TCP port from 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return value


def workers(text: str) -> int:
    """argparse type: a number of worker processes, at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1 or more)")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token_command(settings: Settings) -> str:
    """The `meimages token` command line for this server's data folder, usable from anywhere."""
    exe = Path(sys.executable).parent / "meimages"
    program = str(exe) if exe.is_file() else "meimages"
    return f"{program} token --user ID [--space ID] --data-dir {settings.data_dir.resolve()}"


def _warn_unknown_variables() -> None:
    for name in Settings.unknown_variables():
        logging.getLogger("meimages").warning("%s is not a meimages setting; ignored", name)


def cmd_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    for variable, value in settings.effective():
        print(f"{variable}={value}")
    for name in Settings.unknown_variables():
        print(f"meimages: warning: {name} is not a meimages setting; ignored", file=sys.stderr)
    return 0


def _print_banner(args: argparse.Namespace, settings: Settings) -> None:
    """Where to click, for a person at a terminal."""
    from api.auth import issue_token

    base = f"http://{settings.host}:{settings.port}"
    print(f"meimages: data in {settings.data_dir.resolve()}", flush=True)
    print(f"App:       {base}/", flush=True)
    if settings.graphiql_enabled:
        print(f"GraphiQL:  {base}/graphiql", flush=True)
    print(f"GraphQL:   {base}/graphql  (WebSocket: ws://{settings.host}:{settings.port}/graphql)")
    if settings.embedded_auth and _is_loopback(settings.host) and not settings.production:
        token = issue_token(settings, args.dev_user, ttl_s=86400)
        print(
            f"Dev token for user {args.dev_user!r} (24 h), already filled in here:\n"
            f"  App:       {base}/#token={token}\n"
            f"  GraphiQL:  {base}/graphiql#token={token}\n"
            f"More tokens: {_token_command(settings)}",
            flush=True,
        )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)  # first: a bad variable stops us before any import logs
    from api.operations_cli import refuse_unfinished_restore

    if (refused := refuse_unfinished_restore(args, settings)) is not None:
        return refused

    import uvicorn

    from api.app import create_app
    from api.observability import logs
    from api.serving import serve_workers, settle_heap, uvicorn_options

    logs.configure(settings.log_format, settings.log_level)
    _warn_unknown_variables()
    if (workers := args.workers or settings.workers) > 1:
        return serve_workers(args, settings, workers, announce=lambda s: _print_banner(args, s))
    app = create_app(settings)
    server = app.state.server
    if settings.log_format == "json":
        # A log collector reads stdout too: one JSON line, and no dev token in it.
        logging.getLogger("meimages").info(
            "serving http://%s:%s, data in %s", settings.host, settings.port, settings.data_dir
        )
    else:
        _print_banner(args, server.settings)
    settle_heap()
    uvicorn.run(app, **uvicorn_options(server.settings))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from api.auth import issue_token

    settings = _settings(args)
    if not settings.embedded_auth:
        print(
            "tokens come from your identity provider when MEIMAGES_JWT_JWKS_URL is set",
            file=sys.stderr,
        )
        return 2
    if not settings.jwt_secret:
        # Only the server's own secret makes a token it accepts: never invent a new one here.
        secrets_file = settings.data_dir / "secrets.json"
        if not secrets_file.is_file():
            return _refuse(
                args,
                f"no server secrets in {settings.data_dir.resolve()} (secrets.json is missing), "
                f"so a token made here would be refused; {_data_dir_hint(settings)}",
            )
        try:
            settings = settings.with_local_secrets()
        except (ValueError, KeyError):
            return _refuse(args, f"{secrets_file.resolve()} is not a meimages secrets file")
    print(issue_token(settings, args.user, args.space, args.ttl))
    return 0


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


def cmd_migrate(args: argparse.Namespace) -> int:
    from resolvers.lifecycle.sealing import seal_stored_media
    from storage import migrate
    from storage.db import Database
    from storage.repositories import reading

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def upgrade() -> int:
        db = Database(settings.resolved_database_url)
        try:
            await migrate.upgrade(db)
            async with reading(db) as read:
                return await read.media.count_unsealed_objects()
        finally:
            await db.dispose()

    unsealed = asyncio.run(upgrade())
    where = "MEIMAGES_DATABASE_URL" if settings.database_url else settings.data_dir.resolve()
    print(f"database ({where}) is at the latest schema")
    if not unsealed:
        return 0
    if missing := _missing_state(settings, keys=True, blobs=True):
        # Sealing needs the master key the servers use: a new one made here would wrap
        # data keys no server can unwrap.
        print(
            f"{unsealed} media objects are still stored in the clear (servers serve them as "
            f"they are), but {missing}: run `meimages migrate` again where the servers' "
            "master key and media store are configured to seal them",
            file=sys.stderr,
        )
        return 0
    bar = ProgressBar("sealing stored media", sys.stderr)

    async def job(stores: Any) -> Any:
        # Media stored in the clear by older versions, sealed under its owner's key.
        return await seal_stored_media(stores, bar.update)

    report = _run_with_stores(settings, job)
    bar.close()
    print(
        f"sealed {report.blobs_sealed} stored objects of {report.objects_sealed} media; "
        f"{report.plaintext_deleted} plaintext objects deleted"
        + (f"; {report.missing} renditions had no bytes (see the log)" if report.missing else "")
    )
    return 0


class ProgressBar:
    """`label [#####-----] done/total` on one line of a terminal; plain lines (every
    tenth) when the output is a file or a pipe, so logs stay readable."""

    def __init__(self, label: str, out: Any, width: int = 30) -> None:
        self.label, self.out, self.width = label, out, width
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.shown = False
        self._last_tenth = -1

    def update(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        line = f"{self.label} [{'#' * filled}{'-' * (self.width - filled)}] {done}/{total}"
        if self.tty:
            self.out.write("\r" + line)
        elif (tenth := 10 * done // max(total, 1)) != self._last_tenth or done == total:
            self._last_tenth = tenth
            self.out.write(line + "\n")
        else:
            return
        self.out.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown and self.tty:
            self.out.write("\n")
            self.out.flush()


def cmd_rotate_master_key(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if missing := _missing_state(settings, keys=True):
        return _refuse_missing(args, settings, missing)

    from api.wiring import load_keyring
    from storage import migrate
    from storage.crypto import KeyFile, MasterKey, MasterKeyring
    from storage.db import Database
    from storage.keys import master_keys_in_use, rewrap_all

    key_file: KeyFile | None = None
    if settings.master_key:
        # Env-configured keys: the operator sets the new MEIMAGES_MASTER_KEY and lists the
        # old ones in MEIMAGES_PREVIOUS_MASTER_KEYS; we re-wrap everything under the new one.
        keyring = MasterKeyring(load_keyring(settings).keys)
    else:
        key_file = KeyFile(settings.master_key_file)
        keys = key_file.load_or_create()
        if not args.retire:
            # New key first: running servers see the file change and wrap with it from now
            # on. The old keys stay: a server may still wrap one more data key with the old
            # primary before it notices, so only `--retire`, run later, removes them.
            keys = [MasterKey.generate(), *keys]
            key_file.write(keys)
        keyring = MasterKeyring(keys)
    primary = keyring.primary

    async def run() -> tuple[int, set[str]]:
        db = Database(settings.resolved_database_url)
        try:
            await migrate.upgrade(db)
            count = await rewrap_all(db, keyring)
            return count, await master_keys_in_use(db)
        finally:
            await db.dispose()

    count, in_use = asyncio.run(run())
    print(f"re-wrapped {count} data keys under master key {primary.id}")
    unused = [key for key in keyring.keys[1:] if key.id not in in_use]
    if not args.retire:
        if len(keyring.keys) > 1:
            print(
                "old master keys are kept; once every server has picked up the new one, run "
                "`meimages rotate-master-key --retire` to re-wrap stragglers and drop them"
            )
        return 0
    if key_file is not None:
        key_file.write([key for key in keyring.keys if key is primary or key.id in in_use])
        print(f"{len(unused)} old master key(s) removed")
    elif unused:
        print(
            "no data key uses these previous keys any more; remove them from MEIMAGES_PREVIOUS_MASTER_KEYS:"
        )
        for key in unused:
            print(f"  {key.id}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meimages", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_running_commands(sub)
    _add_key_commands(sub)
    _add_credit_commands(sub)
    _add_cleanup_commands(sub)
    from api.operations_cli import add_operations_commands
    from api.portability_cli import add_portability_commands

    add_portability_commands(sub)
    add_operations_commands(sub)
    return parser


def _add_running_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Serving, tokens, the schema and migrations: what running a server takes."""
    serve = sub.add_parser("serve", help="serve the API (SQLite + local folder by default)")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=port, default=None, help="port (default 8000)")
    serve.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    serve.add_argument("--dev-user", default="me", help="user of the printed dev token")
    serve.add_argument(
        "--workers",
        type=workers,
        default=None,
        help="processes serving the port (default 1, or MEIMAGES_WORKERS; more need PostgreSQL)",
    )
    serve.set_defaults(func=cmd_serve, prog=serve.prog)

    token = sub.add_parser("token", help="print a signed dev token (embedded setup)")
    token.add_argument("--user", required=True, help="owner id (the `sub` claim)")
    token.add_argument("--space", default=None, help="space id (default: personal)")
    token.add_argument(
        "--ttl", type=positive_duration, default="24h", help="lifetime, e.g. 30s, 15m, 2h, 7d"
    )
    token.add_argument(
        "--data-dir", type=data_dir, default=None, help="the server's data folder (default ./data)"
    )
    token.set_defaults(func=cmd_token, prog=token.prog)

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

    mig = sub.add_parser("migrate", help="bring the database schema up to date")
    mig.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    mig.set_defaults(func=cmd_migrate, prog=mig.prog)

    mcp = sub.add_parser("mcp", help="serve MCP over stdio for one owner (desktop agents)")
    mcp.add_argument("--user", default=None, help="owner id, trusted as given (local use)")
    mcp.add_argument("--space", default=None, help="with --user: space id (default: personal)")
    mcp.add_argument("--token", default=None, help="act as this bearer token's owner and space")
    mcp.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    mcp.set_defaults(func=cmd_mcp, prog=mcp.prog)


def _add_key_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rotate = sub.add_parser(
        "rotate-master-key", help="re-wrap every data key under a new master key"
    )
    rotate.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    rotate.add_argument(
        "--retire",
        action="store_true",
        help="no new key: re-wrap stragglers, then drop master keys no data key uses",
    )
    rotate.set_defaults(func=cmd_rotate_master_key, prog=rotate.prog)


def _add_credit_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _add_cleanup_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


if __name__ == "__main__":
    raise SystemExit(main())
