"""`meimages migrate` (which also seals media older versions stored in the clear) and
`meimages rotate-master-key`: the database schema and the keys over it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from api.cli.arguments import DATA_DIR_HELP, data_dir
from api.cli.setup import missing_state as _missing_state
from api.cli.setup import refuse_missing as _refuse_missing
from api.cli.setup import run_with_stores as _run_with_stores
from api.cli.setup import settings_of as _settings


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


def add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mig = sub.add_parser("migrate", help="bring the database schema up to date")
    mig.add_argument("--data-dir", type=data_dir, default=None, help=DATA_DIR_HELP)
    mig.set_defaults(func=cmd_migrate, prog=mig.prog)


def add_rotate_master_key(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
