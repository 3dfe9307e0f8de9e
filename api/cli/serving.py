"""`meimages serve` and `meimages token`: running a server, and the dev tokens of the
embedded setup."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path

from api.cli.arguments import DATA_DIR_HELP, data_dir, port, positive_duration, workers
from api.cli.setup import data_dir_hint as _data_dir_hint
from api.cli.setup import refuse as _refuse
from api.cli.setup import settings_of as _settings
from api.settings import Settings


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
    from api.cli.operations import refuse_unfinished_restore

    if (refused := refuse_unfinished_restore(args, settings)) is not None:
        return refused

    import uvicorn

    from api.app import create_app
    from api.cli.workers import serve_workers, settle_heap, uvicorn_options
    from api.observability import logs

    logs.configure(settings.log_format, settings.log_level)
    _warn_unknown_variables()
    if (workers := args.workers or settings.workers) > 1:
        return serve_workers(args, settings, workers, announce=lambda s: _print_banner(args, s))
    # One process (`--workers 1` may override the variable): the whole pool is its own.
    app = create_app(settings.model_copy(update={"workers": 1}))
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


def add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def add_token(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
