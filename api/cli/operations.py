"""`meimages backup`, `meimages restore` and `meimages verify`: keeping a server safe.

The rules live in `resolvers.operations`; this door checks what it is given, shows
progress on a terminal and prints one summary. Exit codes: 0 done (a complete backup,
a whole folder), 1 done but not whole, 2 refused before anything was written.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from api.settings import Settings

_MB = 1024 * 1024


class ProgressBar:
    """One line on a terminal, redrawn at most ten times a second; silent elsewhere."""

    def __init__(self, what: str, stream: TextIO = sys.stderr) -> None:
        self.what = what
        self.stream = stream
        self.enabled = stream.isatty()
        self._drawn = 0.0

    def __call__(self, done: int, total: int, size: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._drawn < 0.1:
            return
        self._drawn = now
        width = 30
        filled = width * done // total if total else width
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r{self.what} [{bar}] {done}/{total} blobs, {size / _MB:.1f} MB")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def _size(size: int) -> str:
    return f"{size / _MB:.1f} MB" if size >= _MB else f"{size} bytes"


def _read_only_stores(settings: Settings) -> Any:
    """The stores of a data folder, opened without creating anything in it (no secrets,
    no key file, no migration): what verify needs, on a live folder or a backup."""
    from api.wiring import load_keyring
    from resolvers.stores import Stores
    from storage.blob_stores import open_blob_store
    from storage.blobs import S3Credentials
    from storage.crypto import KeyFile, MasterKeyring
    from storage.db import Database
    from storage.keys import FieldVault

    if settings.master_key:
        keyring = load_keyring(settings)
    else:
        keyring = MasterKeyring(KeyFile(settings.master_key_file).load())
    return Stores(
        db=Database(settings.resolved_database_url),
        vault=FieldVault(keyring),
        blobs=open_blob_store(
            settings.blob_url,
            default_dir=settings.resolved_blob_dir,
            credentials=S3Credentials(
                settings.s3_access_key_id, settings.s3_secret_access_key, settings.s3_session_token
            ),
        ),
    )


def _run(stores: Any, job: Callable[[Any], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        try:
            return await job(stores)
        finally:
            await stores.blobs.close()
            await stores.db.dispose()

    return asyncio.run(run())


def _with_master_key_file(settings: Settings, key_file: str | None) -> Settings:
    """Settings that read the master keys from `key_file` (kept apart from the data)."""
    if key_file is None:
        return settings
    from storage.crypto import KeyFile

    keys = KeyFile(Path(key_file)).load()
    return settings.model_copy(
        update={
            "master_key": keys[0].to_b64(),
            "previous_master_keys": tuple(key.to_b64() for key in keys[1:]),
        }
    )


# backup -------------------------------------------------------------------------


def cmd_backup(args: argparse.Namespace) -> int:
    from api.cli import setup as cli
    from api.wiring import build_server
    from resolvers.operations.backup import take_backup
    from storage.backup import BackupFormatError, is_empty_folder

    settings = cli.settings_of(args)
    if missing := cli.missing_state(settings, keys=True, blobs=True):
        return cli.refuse_missing(args, settings, missing)
    dest = Path(args.dest)
    if not is_empty_folder(dest):
        return cli.refuse(args, f"{dest} is not an empty folder; a backup starts in a new one")
    if dest.resolve().is_relative_to(settings.data_dir.resolve()):
        return cli.refuse(args, f"{dest} is inside the data folder; back up to another disk")
    server = build_server(settings)
    bar = ProgressBar("backup")
    secrets = server.settings.data_dir / "secrets.json"

    async def job(stores: Any) -> Any:
        return await take_backup(
            stores,
            dest,
            secrets_file=secrets,
            include_master_key=args.include_master_key,
            progress=bar,
        )

    try:
        report = _run(server.stores, job)
    except BackupFormatError as exc:
        print(f"meimages backup: not complete: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    print(
        f"{'backup' if report.complete else 'INCOMPLETE backup'} of {report.images} images: "
        f"{report.blobs} blobs, {_size(report.bytes)} in {report.seconds:.1f} s "
        f"({report.blobs / max(report.seconds, 1e-6):.0f} blobs/s) -> {dest}"
    )
    if not report.complete:
        for key in report.missing[:20]:
            print(f"  missing from the live store: {key}", file=sys.stderr)
        print("the backup is not complete; take it again into a new folder", file=sys.stderr)
        return 1
    if not args.include_master_key:
        print("the master key is not in the backup: keep it apart (README, Backups)")
    return 0


# restore ------------------------------------------------------------------------


def _restore_refusal(
    args: argparse.Namespace, settings: Settings, manifest: Any, source: Path
) -> str | None:
    """Why this restore must not begin, or None. Nothing has been written yet."""
    from storage.backup import is_empty_folder
    from storage.erasures import ErasureJournal

    if not is_empty_folder(settings.data_dir):
        return f"{settings.data_dir} is not empty; a restore goes into an empty data folder"
    if source.resolve() == settings.data_dir.resolve():
        return "restore into another folder than the backup's"
    if manifest.database == "sqlite" and settings.database_url:
        return "this backup holds a SQLite database; unset MEIMAGES_DATABASE_URL"
    if manifest.database == "postgresql" and not settings.database_url:
        return "this backup holds a PostgreSQL dump; set MEIMAGES_DATABASE_URL to an empty database"
    if not (settings.master_key or manifest.master_key_included or args.master_key_file):
        return (
            "the backup has no master key: give the kept one with --master-key-file FILE "
            "or MEIMAGES_MASTER_KEY"
        )
    journal = ErasureJournal(_journal_path(args, settings))
    if not args.no_erasures and not journal.exists():
        return (
            f"no erasure journal at {journal.path}: a restore must replay the erasures made "
            "since the backup; give the source server's journal with --erasures FILE (or "
            "MEIMAGES_ERASURE_JOURNAL), or --no-erasures if it never erased anything"
        )
    return None


def _journal_path(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.erasures) if args.erasures else settings.resolved_erasure_journal


async def _target_is_empty(settings: Settings) -> str | None:
    """PostgreSQL and S3 targets hold no tables and no objects yet, or why not."""
    from storage.backup import database_is_empty
    from storage.blob_stores import open_blob_store
    from storage.blobs import S3Credentials
    from storage.db import Database

    if settings.database_url:
        db = Database(settings.database_url)
        try:
            async with db.engine.connect() as conn:
                if not await database_is_empty(conn, db.is_sqlite):
                    return "the database of MEIMAGES_DATABASE_URL is not empty"
        finally:
            await db.dispose()
    if settings.blob_url or settings.blob_dir:
        blobs = open_blob_store(
            settings.blob_url,
            default_dir=settings.resolved_blob_dir,
            credentials=S3Credentials(
                settings.s3_access_key_id, settings.s3_secret_access_key, settings.s3_session_token
            ),
        )
        try:
            async for _info in blobs.list_blobs():
                return "the blob store (MEIMAGES_BLOB_URL / MEIMAGES_BLOB_DIR) is not empty"
        finally:
            await blobs.close()
    return None


def cmd_restore(args: argparse.Namespace) -> int:
    from api.cli import setup as cli
    from api.wiring import build_server
    from resolvers.operations.restore import RestoreRefused, place_files, restore
    from storage import migrate
    from storage.backup import BackupFormatError, read_manifest
    from storage.erasures import ErasureJournal

    settings = cli.settings_of(args)
    source = Path(args.source)
    try:
        manifest = read_manifest(source)
    except BackupFormatError as exc:
        return cli.refuse(args, f"nothing restored: {exc}")
    if refusal := _restore_refusal(args, settings, manifest, source):
        return cli.refuse(args, f"nothing restored: {refusal}")
    if refusal := asyncio.run(_target_is_empty(settings)):
        return cli.refuse(args, f"nothing restored: {refusal}")
    source_journal = ErasureJournal(_journal_path(args, settings))
    erasures = [] if args.no_erasures else source_journal.read()
    sqlite_target = None if settings.database_url else settings.data_dir / "meimages.db"
    place_files(
        source,
        manifest,
        data_dir=settings.data_dir,
        sqlite_target=sqlite_target,
        master_key_target=settings.master_key_file,
        master_key_file=Path(args.master_key_file) if args.master_key_file else None,
    )
    server = build_server(settings)
    bar = ProgressBar("restore")

    async def job(stores: Any) -> Any:
        return await restore(
            stores,
            source,
            manifest,
            erasures,
            migrate=lambda: migrate.upgrade(stores.db),
            progress=bar,
        )

    try:
        report = _run(server.stores, job)
    except (RestoreRefused, BackupFormatError) as exc:
        print(f"meimages restore: failed: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    # The restored server keeps the history: a later restore of an older backup needs it.
    target = ErasureJournal(settings.resolved_erasure_journal)
    if target.path.resolve() != source_journal.path.resolve():
        asyncio.run(target.record_all(erasures))
    return _restored(settings, manifest, report)


def _restored(settings: Settings, manifest: Any, report: Any) -> int:
    """The summary of a finished restore; the folder is served only when it is whole."""
    from resolvers.operations.restore import RESTORE_MARKER

    print(
        f"restored {report.images} images, {report.blobs} blobs ({_size(report.bytes)}) "
        f"in {report.seconds:.1f} s from the backup of {manifest.taken_at:%Y-%m-%d %H:%M:%S} UTC; "
        f"{report.erasures_replayed} erasures made since replayed "
        f"({report.owners_erased} owners, {report.images_erased} images)"
    )
    if not report.check.whole:
        _print_problems(report.check.problems)
        print(
            f"the restored folder is not whole; {RESTORE_MARKER} is kept, so it is not "
            "served until you have looked",
            file=sys.stderr,
        )
        return 1
    (settings.data_dir / RESTORE_MARKER).unlink()
    return 0


def refuse_unfinished_restore(args: argparse.Namespace, settings: Settings) -> int | None:
    """`meimages serve` does not serve a folder whose restore has not finished."""
    from api.cli import setup as cli
    from resolvers.operations.restore import RESTORE_MARKER, restoring

    if restoring(settings.data_dir):
        return cli.refuse(
            args,
            f"a restore into {settings.data_dir} did not finish ({RESTORE_MARKER}); "
            "restore again into an empty folder",
        )
    return None


# verify -------------------------------------------------------------------------


def _print_problems(problems: list[str], limit: int = 200) -> None:
    for problem in problems[:limit]:
        print(f"  {problem}", file=sys.stderr)
    if len(problems) > limit:
        print(f"  ... and {len(problems) - limit} more", file=sys.stderr)


def cmd_verify(args: argparse.Namespace) -> int:
    from api.cli import setup as cli
    from resolvers.operations.verify import check_backup_blobs, verify
    from storage.backup import INCOMPLETE, SQLITE_FILE, is_backup, unfinished

    settings = _with_master_key_file(cli.settings_of(args), args.master_key_file)
    folder = settings.data_dir
    if is_backup(folder):
        if not (folder / SQLITE_FILE).is_file():
            # A PostgreSQL dump, or a backup killed before its database was copied.
            problems = check_backup_blobs(folder)
            print(
                "whole backup (blobs; check the dump with pg_restore --list)"
                if not problems
                else f"NOT whole: {len(problems)} problems"
            )
            _print_problems(problems)
            return 1 if problems else 0
        # A backup of the embedded default: its own database and blobs, not the server's.
        settings = settings.model_copy(
            update={"database_url": "", "blob_url": "", "blob_dir": None}
        )
    if missing := cli.missing_state(settings, keys=True, blobs=True):
        if unfinished(folder):  # whatever else is missing, that much is known
            print(f"NOT whole: {folder} is a backup that did not finish ({INCOMPLETE})")
            return 1
        return cli.refuse_missing(args, settings, missing)
    bar = ProgressBar("verify")

    async def job(stores: Any) -> Any:
        return await verify(
            stores, folder=settings.data_dir, read_blobs=not args.skip_reads, progress=bar
        )

    try:
        report = _run(_read_only_stores(settings), job)
    finally:
        bar.close()
    summary = (
        f"{report.images} live images, {report.blobs} blobs, {report.blobs_read} read "
        f"({_size(report.bytes)}); {report.awaiting_collector} unreferenced blobs await the "
        "garbage collector"
    )
    if report.whole:
        print(f"whole: {summary}")
        return 0
    print(f"NOT whole: {len(report.problems)} problems; {summary}")
    _print_problems(report.problems)
    return 1


def add_operations_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from api.cli.arguments import DATA_DIR_HELP, data_dir

    backup = sub.add_parser("backup", help="copy a live server's data into a new folder")
    backup.add_argument("dest", help="an empty or new folder, on another disk")
    backup.add_argument(
        "--include-master-key",
        action="store_true",
        help="also write the master keys (whoever holds the backup can then read it all)",
    )
    backup.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    backup.set_defaults(func=cmd_backup, prog=backup.prog)

    restore = sub.add_parser("restore", help="restore a backup into an empty data folder")
    restore.add_argument("source", help="the folder `meimages backup` wrote")
    restore.add_argument(
        "--erasures",
        default=None,
        help="the erasure journal of the server backed up (default MEIMAGES_ERASURE_JOURNAL)",
    )
    restore.add_argument(
        "--no-erasures", action="store_true", help="replay none (the server never erased)"
    )
    restore.add_argument(
        "--master-key-file", default=None, help="the master keys kept apart from the backup"
    )
    restore.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    restore.set_defaults(func=cmd_restore, prog=restore.prog)

    check = sub.add_parser("verify", help="check that a data folder (or a backup) is whole")
    check.add_argument(
        "--skip-reads", action="store_true", help="do not read every blob back (faster)"
    )
    check.add_argument(
        "--master-key-file", default=None, help="master keys kept apart (a backup's check)"
    )
    check.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    check.set_defaults(func=cmd_verify, prog=check.prog)
