"""The trips a SQLite writer makes to aiosqlite's thread (storage/sqlite_driver.py)."""

from __future__ import annotations

from typing import Any

import pytest

from storage import sqlite_driver


def record_trips(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """From now on (until the test ends), each trip as (what it carried, how many sent
    statements waited for it): "run" is a statement, "commit" the COMMIT."""
    made: list[tuple[str, int]] = []
    run, commit = sqlite_driver._run, sqlite_driver._commit

    def counted_run(connection: Any, waiting: list[Any], *rest: Any) -> Any:
        made.append(("run", len(waiting)))
        return run(connection, waiting, *rest)

    def counted_commit(connection: Any, waiting: list[Any], begin: bool) -> None:
        made.append(("commit", len(waiting)))
        commit(connection, waiting, begin)

    monkeypatch.setattr(sqlite_driver, "_run", counted_run)
    monkeypatch.setattr(sqlite_driver, "_commit", counted_commit)
    return made
