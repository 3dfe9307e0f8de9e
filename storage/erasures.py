"""The erasure journal: every erasure this server made, so a restore can make it again.

A backup restores a database as it was; whatever was erased after it would come back.
The journal lives outside what a backup holds and a restore replaces (a file the
operator places, by default `erasures.jsonl` in the data folder, which backups skip),
and holds ids and times only — never a label, a picture or a key:

    {"at": "2026-12-06T16:00:00.123456+00:00", "erase": "owner", "owner": "alice"}
    {"at": "...", "erase": "images", "owner": "alice", "images": ["<image id>", ...]}

One JSON object per line, appended with O_APPEND and fsynced before the erasure's
transaction commits: an erasure that happened is always in it (one that then failed to
commit is in it too, and replaying it erases what its owner had asked to erase anyway).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger("meimages.erasures")

OWNER = "owner"
IMAGES = "images"


@dataclass(frozen=True)
class Erasure:
    at: datetime
    erase: str  # OWNER or IMAGES
    owner_id: str
    image_ids: tuple[str, ...] = ()

    def to_line(self) -> bytes:
        body: dict[str, object] = {"at": self.at.isoformat(), "erase": self.erase}
        body["owner"] = self.owner_id
        if self.erase == IMAGES:
            body["images"] = list(self.image_ids)
        return json.dumps(body, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_line(cls, line: str) -> Erasure:
        body = json.loads(line)
        erase = body["erase"]
        if erase not in (OWNER, IMAGES):
            raise ValueError(f"unknown erasure {erase!r}")
        at = datetime.fromisoformat(body["at"])
        if at.tzinfo is None:
            raise ValueError("an erasure time without a zone")
        images = tuple(str(image) for image in body.get("images", ()))
        return cls(at, erase, str(body["owner"]), images)


class ErasureJournal:
    """An append-only file of erasures (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"ErasureJournal({str(self.path)!r})"

    async def record(self, erasure: Erasure) -> None:
        """Append durably; when this returns, a crash does not lose the entry."""
        await asyncio.to_thread(self._append, [erasure.to_line()])

    async def record_all(self, erasures: Iterable[Erasure]) -> None:
        lines = [erasure.to_line() for erasure in erasures]
        if lines:
            await asyncio.to_thread(self._append, lines)

    def _append(self, lines: list[bytes]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # One write per entry: appends of other processes never interleave inside one.
            for line in lines:
                os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def ensure(self) -> None:
        """Create the journal, empty, if it is not there: from then on a journal that
        is missing was lost, not merely never written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self) -> list[Erasure]:
        """Every entry, in the order written; a line a crash cut short is skipped."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        found = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                found.append(Erasure.from_line(line))
            except (ValueError, KeyError, TypeError):
                log.warning("%s line %d does not read; skipped", self.path, number)
        return found
