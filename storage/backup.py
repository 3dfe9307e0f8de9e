"""The backup folder: its layout, its manifest, and the consistent copy of each database.

    DEST/manifest.json       written last: a backup without it never finished
    DEST/BACKUP-INCOMPLETE   written first, removed once the manifest is in place
    DEST/meimages.db         SQLite: a copy made by SQLite's online backup API
    DEST/database.dump       PostgreSQL: `pg_dump --format=custom` of the same snapshot
    DEST/media/<key>         every blob a row of the copy names, as the store holds it
    DEST/secrets.json        the server's token and URL secrets (embedded setup)
    DEST/master-keys.json    only when asked for: whoever holds it can read everything

This module owns the format: the backup writes it and the restore reads it through here.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.crypto import KeyFile, MasterKey
from storage.db import Database
from storage.integrity import snapshot

FORMAT = "meimages-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
INCOMPLETE = "BACKUP-INCOMPLETE"
SQLITE_FILE = "meimages.db"
PG_DUMP_FILE = "database.dump"
MEDIA = "media"
SECRETS = "secrets.json"
MASTER_KEYS = "master-keys.json"


class BackupFormatError(Exception):
    """A folder that is not a finished backup, or a database tool that failed."""


@dataclass(frozen=True)
class BlobEntry:
    key: str
    size: int
    sha256: str


@dataclass
class Manifest:
    """What a finished backup holds; `taken_at` is taken before its snapshot began, so
    every erasure that may be missing from the snapshot is at or after it."""

    taken_at: datetime
    database: str  # "sqlite" or "postgresql"
    schema_revision: str
    images: int
    blobs: list[BlobEntry] = field(default_factory=list)
    secrets_included: bool = False
    master_key_included: bool = False
    format: str = FORMAT
    version: int = FORMAT_VERSION

    @property
    def byte_size(self) -> int:
        return sum(blob.size for blob in self.blobs)

    def to_json(self) -> str:
        body = asdict(self)
        body["taken_at"] = self.taken_at.isoformat()
        return json.dumps(body, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        body = json.loads(text)
        if body.get("format") != FORMAT or body.get("version") != FORMAT_VERSION:
            raise BackupFormatError("not a meimages backup manifest (or a newer format)")
        body["taken_at"] = datetime.fromisoformat(body["taken_at"])
        body["blobs"] = [BlobEntry(**blob) for blob in body["blobs"]]
        return cls(**body)


def write_durably(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: temp file, fsync, rename, fsync the folder."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    sync_folder(path.parent)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def add_secrets(dest: Path, secrets_file: Path | None, master_keys: Sequence[MasterKey]) -> bool:
    """The server secrets (when it keeps them in a file) and, when given, the master
    keys; returns whether the secrets were there to copy."""
    copied = False
    if secrets_file is not None and secrets_file.is_file():
        shutil.copyfile(secrets_file, dest / SECRETS)
        (dest / SECRETS).chmod(0o600)
        copied = True
    if master_keys:
        KeyFile(dest / MASTER_KEYS).write(master_keys)
    return copied


def sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_empty_folder(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def begin(dest: Path) -> None:
    """Mark `dest` (an empty folder) as a backup being written."""
    # Only its owner reads a backup: it holds every owner's rows (encrypted or not).
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)
    write_durably(dest / INCOMPLETE, b"this backup did not finish; do not restore it\n")


def finish(dest: Path, manifest: Manifest) -> None:
    """The last step of a backup: the manifest in place, then the marker gone."""
    write_durably(dest / MANIFEST, manifest.to_json().encode())
    (dest / INCOMPLETE).unlink()
    sync_folder(dest)


def unfinished(folder: Path) -> bool:
    """A folder a backup began to write and never finished."""
    return (folder / INCOMPLETE).exists()


def is_backup(folder: Path) -> bool:
    """A folder a backup wrote (finished or not), rather than a server's data folder."""
    return (folder / INCOMPLETE).exists() or (folder / MANIFEST).exists()


def read_manifest(folder: Path) -> Manifest:
    if (folder / INCOMPLETE).exists():
        raise BackupFormatError(f"{folder} holds a backup that did not finish")
    try:
        return Manifest.from_json((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupFormatError(f"{folder} has no {MANIFEST}: not a finished backup") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupFormatError(f"{folder / MANIFEST} does not read: {exc}") from None


async def schema_revision(conn: AsyncConnection) -> str:
    rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    return ",".join(sorted(str(row[0]) for row in rows))


# SQLite -------------------------------------------------------------------------


def copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup API in one step: one read snapshot of a live WAL database
    (a file copy could catch the database and its WAL at different moments)."""
    if not source.is_file():
        raise BackupFormatError(f"no database at {source}")
    src = sqlite3.connect(source, timeout=60)  # only read: the backup API takes a read lock
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # every page at once, under one read lock
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()
    fsync_file(target)


def sqlite_path(db: Database) -> Path:
    database = make_url(db.url).database
    if not database or database == ":memory:":
        raise BackupFormatError("an in-memory database cannot be backed up")
    return Path(database)


# PostgreSQL ---------------------------------------------------------------------


def _libpq(db: Database) -> tuple[str, dict[str, str]]:
    """A libpq URL for pg_dump / pg_restore, its password passed in the environment (a
    command line is visible to every user of the machine)."""
    url = make_url(db.url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFormatError(
            f"{name} is not installed: install the PostgreSQL client tools of your server's "
            "version, or back up the database with your provider's snapshots (README)"
        )
    return found


@asynccontextmanager
async def exported_snapshot(db: Database) -> AsyncIterator[tuple[AsyncConnection, str]]:
    """A read-only snapshot of PostgreSQL that `pg_dump --snapshot` can share while it
    stays open: the dump and the blob list see the very same rows."""
    async with snapshot(db) as conn:
        name = str((await conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one())
        yield conn, name


async def pg_dump(db: Database, snapshot_name: str, target: Path) -> None:
    url, env = _libpq(db)
    command = [_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot_name}"]
    command += ["--no-owner", "--no-privileges", f"--file={target}", url]
    await _run(command, env)
    await asyncio.to_thread(fsync_file, target)


async def pg_restore(db: Database, source: Path) -> None:
    url, env = _libpq(db)
    command = [_tool("pg_restore"), "--exit-on-error", "--no-owner", "--no-privileges"]
    command += [f"--dbname={url}", str(source)]
    await _run(command, env)


async def _run(command: list[str], env: dict[str, str]) -> None:
    result = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tool = Path(command[0]).name
        raise BackupFormatError(f"{tool} failed: {result.stderr.strip()[-500:]}")


async def database_is_empty(conn: AsyncConnection, is_sqlite: bool) -> bool:
    if is_sqlite:
        sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
    return int((await conn.execute(text(sql))).scalar_one()) == 0
