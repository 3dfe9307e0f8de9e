"""Start-up says when limits cannot hold across instances."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from api.settings import Settings
from api.wiring import build_server
from tests.limits.conftest import REDIS_URL

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/not_connected_to"
WARNING = "MEIMAGES_REDIS_URL is not set"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("database_url", "redis_url", "warned"),
    [(PG, "", True), (PG, REDIS_URL, False), ("", "", False)],
)
def test_postgresql_without_redis_warns_that_limits_are_per_process(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    database_url: str,
    redis_url: str,
    warned: bool,
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url, redis_url=redis_url)
    with caplog.at_level(logging.WARNING, logger="meimages"):
        build_server(settings)  # connects to nothing: engines and clients are lazy
    assert any(WARNING in m for m in _warnings(caplog)) is warned
