"""Where the web app's source and build live, and its own npm packages (web/); and running
the browser scripts here (tests/webapp/*.cjs, which share browser.cjs) in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from testbed.server import LiveServer, start_server
from tests.support.node import ROOT, ensure_node_modules
from tests.support.provider_server import OPENAI_KEY, ProviderServer

WEB = ROOT / "web"
APP_DIR = ROOT / "api" / "static" / "app"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Screenshots go to MEIMAGES_WEBAPP_SHOTS when set (to look at), else to the test's temp dir.
SHOTS_ENV = "MEIMAGES_WEBAPP_SHOTS"
AXE = WEB / "node_modules/axe-core/axe.min.js"


def generating_server(folder: Path, provider: ProviderServer) -> LiveServer:
    """A live server whose OpenAI models are answered by the provider test server."""
    return start_server(
        folder, {"MEIMAGES_OPENAI_BASE_URL": provider.url, "MEIMAGES_OPENAI_API_KEY": OPENAI_KEY}
    )


def call(server: LiveServer, owner: str, query: str, variables: dict[str, object]) -> Any:
    """`data` of a GraphQL call as `owner`, which must answer without errors."""
    answer = httpx.post(
        f"{server.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {server.token(owner)}"},
        timeout=60,
    ).json()
    assert "errors" not in answer, answer
    return answer["data"]


def opted_in_reference(server: LiveServer, owner: str, photo: bytes) -> str:
    """The id of `photo`, uploaded for `owner` as the app sends it (multipart) and opted in
    for AI use."""
    uploaded = httpx.post(
        f"{server.url}/graphql",
        headers={
            "Authorization": f"Bearer {server.token(owner)}",
            "GraphQL-Require-Preflight": "1",
        },
        data={
            "operations": json.dumps(
                {
                    "query": "mutation($file: Upload!) { uploadMeImage(file: $file) "
                    "{ ... on MeImage { id } } }",
                    "variables": {"file": None},
                }
            ),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": ("face.jpg", photo, "image/jpeg")},
        timeout=60,
    ).json()
    image_id: str = uploaded["data"]["uploadMeImage"]["id"]
    call(
        server,
        owner,
        "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
        {"id": image_id},
    )
    return image_id


def ensure_web_modules() -> Path:
    """`npm ci` in web/ unless web/node_modules already matches its lock file."""
    return ensure_node_modules(WEB)


def shots_folder(tmp_path: Path) -> Path:
    shots = Path(os.environ.get(SHOTS_ENV) or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def run_browser_script(
    script: str, config: dict[str, Any], tmp_path: Path, timeout_s: float
) -> dict[str, Any]:
    """Run tests/webapp/`script` with `config` (to which it adds Chromium's path, a profile
    folder in `tmp_path` and axe-core's script); the JSON report it printed, once it exited 0."""
    config = {
        "chromium": CHROMIUM,
        "profile": str(tmp_path / "chromium-profile"),
        "axe": str(AXE),
        **config,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    run = subprocess.run(
        ["node", str(Path(__file__).parent / script), str(tmp_path / "config.json")],
        capture_output=True,
        text=True,
        timeout=timeout_s,  # a safety net: each step waits on the page, not on a clock
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    report: dict[str, Any] = json.loads(run.stdout)
    return report


def assert_accessible_and_fitting(report: dict[str, Any]) -> None:
    """No serious or critical axe violation on any page or state the script ran axe on, and
    nothing sticking out sideways on a 375 px phone."""
    serious = {
        page: [v for v in violations if v["impact"] in ("serious", "critical")]
        for page, violations in report["axe"].items()
    }
    assert serious == {page: [] for page in serious}, serious
    assert all(report[key] <= 0 for key in report if key.startswith("overflow_")), report
