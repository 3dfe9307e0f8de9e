"""The balance the generator shows after a charge comes from an answer the server made after
that charge: two generations in a row in headless Chromium against a live server and the
provider test server, with the page's balance reads slowed down in the page (their
answers held after the server made them), so the first one's read is still on its way
when the second generation is charged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.images import jpeg
from testbed.server import LiveServer
from tests.support.provider_server import ProviderServer
from tests.webapp.web import (
    CHROMIUM,
    ensure_web_modules,
    generating_server,
    opted_in_reference,
    run_browser_script,
)

OWNER = "balance-person"
LOW = 3  # credits per LOW-quality image of the default model


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider_server: ProviderServer
) -> Iterator[LiveServer]:
    live = generating_server(tmp_path_factory.mktemp("webapp-balance"), provider_server)
    yield live
    live.stop()


def _prepare(server: LiveServer) -> None:
    """Credits, and one reference opted in."""
    granted = server.cli("credits", "grant", "--user", OWNER, "100")
    assert granted.returncode == 0, granted.stderr
    opted_in_reference(server, OWNER, jpeg(71, size=(800, 800)))


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (CI installs Debian's chromium)")
def test_the_balance_after_a_charge_is_read_after_it(
    server: LiveServer, provider: ProviderServer, tmp_path: Path
) -> None:
    ensure_web_modules()
    _prepare(server)
    config = {"base": server.url, "token": server.token(OWNER)}
    report = run_browser_script("balance_browser.cjs", config, tmp_path, timeout_s=900)
    assert report["failed"] == [] and report["pageErrors"] == []

    before = report["balanceBefore"]
    assert f"Charged {LOW} credits" in report["firstCharged"]
    assert f"Charged {LOW} credits" in report["secondCharged"]
    seen = {
        key: report[key] for key in ("balanceWhileHeld", "readsSent", "heldAnswers", "balanceAfter")
    }
    assert seen == {
        # Nothing reached the page while the answers were held.
        "balanceWhileHeld": before,
        # Each charge was followed by a read of its own, and the server answered each with
        # the balance of its moment: the first one's read was made before the second charge.
        "readsSent": 2,
        "heldAnswers": [before - LOW, before - 2 * LOW],
        # Delivered newest first, the older answer arriving last changes nothing.
        "balanceAfter": before - 2 * LOW,
    }
