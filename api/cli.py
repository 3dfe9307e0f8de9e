"""The `meimages` command line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import Any

from api.settings import Settings


def _parse_ttl(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return Settings.from_env(None, **overrides)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.auth import issue_token

    settings = _settings(args)
    app = create_app(settings)
    server = app.state.server
    base = f"http://{settings.host}:{settings.port}"
    print(f"meimages: data in {settings.data_dir.resolve()}", flush=True)
    print(f"App:       {base}/", flush=True)
    if server.settings.graphiql_enabled:
        print(f"GraphiQL:  {base}/graphiql", flush=True)
    print(f"GraphQL:   {base}/graphql  (WebSocket: ws://{settings.host}:{settings.port}/graphql)")
    if server.settings.embedded_auth and _is_loopback(settings.host) and not settings.production:
        token = issue_token(server.settings, args.dev_user, ttl_s=86400)
        print(
            f"Dev token for user {args.dev_user!r} (24 h), already filled in here:\n"
            f"  App:       {base}/#token={token}\n"
            f"  GraphiQL:  {base}/graphiql#token={token}\n"
            f"More tokens: meimages token --user ID [--space ID]",
            flush=True,
        )
    # The schema, modules and settings built above live as long as the process: move them
    # out of the cyclic GC's sight so full collections stop rescanning them per request.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=os.environ.get("MEIMAGES_LOG_LEVEL", "info").lower(),
        proxy_headers=False,
        # Oversized WebSocket frames are refused before they are buffered whole, and open
        # event streams (SSE) must not hold a shutdown forever; clients resume by cursor.
        ws_max_size=server.settings.ws_max_message_bytes,
        timeout_graceful_shutdown=10,
    )
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
    settings = settings.with_local_secrets()
    print(issue_token(settings, args.user, args.space, _parse_ttl(args.ttl)))
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from schema import export_sdl

    sdl = export_sdl()
    if args.output:
        Path(args.output).write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import Database

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def run() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await migrate.upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(run())
    print("database is at the latest schema")
    return 0


def cmd_rotate_master_key(args: argparse.Namespace) -> int:
    from api.app import load_keyring
    from storage import migrate
    from storage.crypto import KeyFile, MasterKey, MasterKeyring
    from storage.db import Database
    from storage.keys import master_keys_in_use, rewrap_all

    settings = _settings(args)
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
    from resolvers.errors import InvalidInput
    from resolvers.generation import credits
    from storage import migrate
    from storage.db import Database

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
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


def _run_with_stores(args: argparse.Namespace, job: Any) -> Any:
    """Build the same stores the server uses (database, keys, blob store) and run `job`."""
    from api.app import build_server
    from storage import migrate

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = build_server(settings)

    async def run() -> Any:
        try:
            await migrate.upgrade(server.stores.db)
            return await job(server.stores)
        finally:
            await server.stores.blobs.close()
            await server.stores.db.dispose()

    return asyncio.run(run())


def cmd_gc(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from resolvers.purge import collect_garbage

    settings = _settings(args)
    grace = _parse_ttl(args.grace) if args.grace else settings.gc_grace_s

    async def job(stores: Any) -> Any:
        return await collect_garbage(stores, grace=timedelta(seconds=grace), sweep=args.sweep)

    report = _run_with_stores(args, job)
    print(
        f"deleted {report.blobs_deleted} orphaned blobs (grace {grace} s); "
        f"{report.incomplete_removed} incomplete writes removed; "
        f"{report.untracked_registered} untracked blobs registered for a later run"
    )
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from resolvers.purge import purge_deleted_images, purge_owner

    if args.user is None and not args.deleted:
        print("say what to purge: --user ID, or --deleted [--older-than 7d]", file=sys.stderr)
        return 2

    async def job(stores: Any) -> Any:
        if args.user is not None:
            return await purge_owner(stores, args.user)
        older_than = timedelta(seconds=_parse_ttl(args.older_than))
        return await purge_deleted_images(stores, older_than=older_than)

    report = _run_with_stores(args, job)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meimages", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API (SQLite + local folder by default)")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument("--data-dir", default=None, help="data folder (default ./data)")
    serve.add_argument("--dev-user", default="me", help="user of the printed dev token")
    serve.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="print a signed dev token (embedded setup)")
    token.add_argument("--user", required=True, help="owner id (the `sub` claim)")
    token.add_argument("--space", default=None, help="space id (default: personal)")
    token.add_argument("--ttl", default="24h", help="lifetime, e.g. 3600, 30m, 24h, 7d")
    token.add_argument("--data-dir", default=None, help="data folder (default ./data)")
    token.set_defaults(func=cmd_token)

    export = sub.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", "-o", default=None, help="write to a file instead")
    export.set_defaults(func=cmd_export_schema)

    mig = sub.add_parser("migrate", help="bring the database schema up to date")
    mig.add_argument("--data-dir", default=None)
    mig.set_defaults(func=cmd_migrate)

    rotate = sub.add_parser(
        "rotate-master-key", help="re-wrap every data key under a new master key"
    )
    rotate.add_argument("--data-dir", default=None)
    rotate.add_argument(
        "--retire",
        action="store_true",
        help="no new key: re-wrap stragglers, then drop master keys no data key uses",
    )
    rotate.set_defaults(func=cmd_rotate_master_key)

    credit = sub.add_parser("credits", help="generation credits of an owner (administration)")
    credit_sub = credit.add_subparsers(dest="credits_command", required=True)
    grant = credit_sub.add_parser("grant", help="add credits to an owner's balance")
    grant.add_argument("--user", required=True, help="owner id (the `sub` claim)")
    grant.add_argument("amount", type=int, help="credits to add (positive)")
    grant.add_argument("--note", default=None, help="why, kept in the ledger")
    grant.add_argument("--data-dir", default=None)
    grant.set_defaults(func=cmd_credits)
    show = credit_sub.add_parser("show", help="print an owner's available credits")
    show.add_argument("--user", required=True, help="owner id (the `sub` claim)")
    show.add_argument("--data-dir", default=None)
    show.set_defaults(func=cmd_credits)

    gc = sub.add_parser("gc", help="delete media blobs no row has referenced for a grace period")
    gc.add_argument("--grace", default=None, help="e.g. 1h (default MEIMAGES_GC_GRACE, 1 h)")
    gc.add_argument(
        "--sweep", action="store_true", help="also register blobs found in the store but unknown"
    )
    gc.add_argument("--data-dir", default=None)
    gc.set_defaults(func=cmd_gc)

    purge = sub.add_parser("purge", help="remove deleted images, or everything of one owner")
    purge.add_argument("--user", default=None, help="owner id: images, media and data keys")
    purge.add_argument(
        "--deleted", action="store_true", help="soft-deleted images and unattached uploads"
    )
    purge.add_argument("--older-than", default="7d", help="with --deleted: e.g. 0, 24h, 30d")
    purge.add_argument("--data-dir", default=None)
    purge.set_defaults(func=cmd_purge)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
