"""Live servers for the attack suite, on SQLite and on PostgreSQL, in development and production mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attack.target import Target, launch
from tests.support.databases import BACKENDS
from tests.support.provider_server import OPENAI_KEY, ProviderServer

# Filled by the fuzzing tests, printed at the end of the run (the issue asks for the run size).
FUZZ_REQUESTS: dict[str, int] = {}
# The same for the raw HTTP fuzzer, by request family and backend.
HTTP_FUZZ_REQUESTS: dict[str, int] = {}


@pytest.fixture(scope="session", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_database: str,
    provider_server: ProviderServer,
) -> Iterator[Target]:
    """Development mode: introspection on, the mode the schema is walked and fuzzed in."""
    target = launch(
        tmp_path_factory.mktemp(f"attack-dev-{request.param}"),
        request.param,
        pg_database,
        MEIMAGES_OPENAI_API_KEY=OPENAI_KEY,
        MEIMAGES_OPENAI_BASE_URL=provider_server.url,
        MEIMAGES_INITIAL_CREDITS="1000",
    )
    yield target
    alive = target.stop()
    assert alive, "the server died during the attack suite"


@pytest.fixture(scope="session", params=BACKENDS)
def production(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_database: str
) -> Iterator[Target]:
    target = launch(
        tmp_path_factory.mktemp(f"attack-prod-{request.param}"),
        request.param,
        pg_database,
        MEIMAGES_PRODUCTION="1",
    )
    yield target
    alive = target.stop()
    assert alive, "the server died during the attack suite"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FUZZ_REQUESTS:
        total = sum(FUZZ_REQUESTS.values())
        fields = len({key.split(" ")[0] for key in FUZZ_REQUESTS})
        terminalreporter.write_line(
            f"schemathesis fuzzing: {total} requests over {fields} root fields "
            f"({len(FUZZ_REQUESTS)} field/mode/backend runs)"
        )
    if HTTP_FUZZ_REQUESTS:
        runs = ", ".join(f"{key}: {n}" for key, n in sorted(HTTP_FUZZ_REQUESTS.items()))
        terminalreporter.write_line(
            f"raw HTTP fuzzing: {sum(HTTP_FUZZ_REQUESTS.values())} requests ({runs})"
        )
