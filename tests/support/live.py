"""Live `meimages serve` processes for tests: one on the backend a test is parametrized
with, or several sharing one deployment's settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from testbed.server import LiveServer, start_server
from tests.support.databases import postgres_database_sync


@contextmanager
def live_server_on(
    backend: str, data_dir: Path, settings: Mapping[str, str], prefix: str
) -> Iterator[LiveServer]:
    """`meimages serve` on its default SQLite file in `data_dir`, or ("postgres") on a
    fresh PostgreSQL database of its own, dropped once the server stopped."""
    with ExitStack() as stack:
        if backend == "postgres":
            url = stack.enter_context(postgres_database_sync(prefix))
            settings = {**settings, "MEIMAGES_DATABASE_URL": url}
        server = start_server(data_dir, settings)
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def live_servers(
    folder: Path, settings: Mapping[str, str], names: Sequence[str] = ("a", "b")
) -> Iterator[list[LiveServer]]:
    """Instances of one deployment: each started with `settings` in `folder`/<name>, in
    order; all that started are stopped afterwards (the last first)."""
    with ExitStack() as stack:
        servers: list[LiveServer] = []
        for name in names:
            server = start_server(folder / name, settings)
            stack.callback(server.stop)
            servers.append(server)
        yield servers
