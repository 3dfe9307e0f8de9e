"""Web app benchmark: Lighthouse scores of the main page, and a first load from a warm server.

    .venv/bin/python -m bench.webapp [--json] [--images 50] [--loads 5]

Starts `meimages serve` on a free loopback port (embedded setup), uploads 50 images for one
owner through the GraphQL multipart route, then:
- runs Lighthouse (npm `lighthouse`, pinned in bench/webapp/package.json, a version that
  runs on Node 20) on the signed-in main page with Debian's Chromium, and prints the
  accessibility, best-practices and performance scores;
- loads the main page in headless Chromium with an empty browser cache, five times, and
  prints the bytes on the wire per resource type (first load) and the time from
  navigation start until 50 thumbnails are shown.

`--quick` uploads 5 images and loads the page once.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import httpx

from bench.short import parse_args, server_spawn
from testbed.images import jpeg
from testbed.server import start_server

HERE = Path(__file__).parent / "webapp"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
UPLOAD = (
    'mutation($f: Upload!) { uploadMeImage(file: $f, input: {kind: FACE, label: "bench"}) '
    "{ __typename } }"
)
CHROME_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)


def install_lighthouse() -> Path:
    """`npm ci` in bench/webapp unless Lighthouse is there; one installer at a time, so the
    benchmark and the test suite's Lighthouse test can both ask at once."""
    lighthouse = HERE / "node_modules/lighthouse/cli/index.js"
    with open(HERE / ".npm-install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not lighthouse.is_file():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True
            )
    return lighthouse


def _seed(url: str, token: str, images: int) -> None:
    headers = {"Authorization": f"Bearer {token}", "GraphQL-Require-Preflight": "1"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for i in range(images):
            response = client.post(
                "/graphql",
                data={
                    "operations": json.dumps({"query": UPLOAD, "variables": {"f": None}}),
                    "map": json.dumps({"0": ["variables.f"]}),
                },
                files={
                    "0": (f"bench-{i}.jpg", jpeg(seed=1000 + i, size=(800, 1000)), "image/jpeg")
                },
            )
            assert response.json()["data"]["uploadMeImage"]["__typename"] == "MeImage", (
                response.text
            )


def _lighthouse(url: str, token: str, tmp: Path, quick: bool) -> dict[str, float]:
    report = tmp / "lighthouse.json"
    # The report's full-page screenshot is in no score; a quick run does not take it.
    shot = ["--disable-full-page-screenshot"] if quick else []
    subprocess.run(
        [
            "node",
            str(HERE / "node_modules/lighthouse/cli/index.js"),
            f"{url}/#token={token}",
            "--output=json",
            f"--output-path={report}",
            "--only-categories=accessibility,best-practices,performance",
            f"--chrome-flags={CHROME_FLAGS} --user-data-dir={tmp / 'lh-profile'}",
            "--quiet",
            *shot,
        ],
        check=True,
        env={"CHROME_PATH": CHROMIUM, "PATH": "/usr/bin:/bin:/usr/local/bin"},
        timeout=300,
    )
    categories = json.loads(report.read_text())["categories"]
    return {name: round(cat["score"] * 100) for name, cat in categories.items()}


def _first_load(url: str, token: str, tmp: Path, images: int, loads: int) -> dict[str, object]:
    out = subprocess.run(
        [
            "node",
            str(HERE / "load.cjs"),
            url,
            token,
            CHROMIUM,
            str(tmp / "load-profile"),
            str(images),
            str(loads),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--images", type=int, default=50, help="images in the pool")
    parser.add_argument("--loads", type=int, default=5, help="clean loads of the page timed")
    args = parse_args(parser, images=5, loads=1)
    spawn = server_spawn(args.quick)  # a quick run's fork server starts while npm is checked
    install_lighthouse()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "data").mkdir()
        server = start_server(tmp / "data", spawn=spawn)
        try:
            token = server.token("bench-webapp")
            _seed(server.url, token, args.images)
            scores = _lighthouse(server.url, token, tmp, args.quick)
            load = _first_load(server.url, token, tmp, args.images, args.loads)
        finally:
            server.stop()
    runs = list(load["runs"])  # type: ignore[call-overload]
    first = dict(load["firstBytes"])  # type: ignore[call-overload]
    result = {
        "lighthouse": scores,
        "first_load_bytes": first,
        "first_load_js_bytes": first.get("Script", 0),
        "images": args.images,
        "time_to_images_ms": {"median": statistics.median(runs), "runs": runs},
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"Lighthouse (main page, signed in): {scores}")
        print(f"first load, bytes on the wire by type: {first}")
        print(f"  JavaScript: {first.get('Script', 0) / 1024:.1f} KiB compressed")
        print(
            f"time to show {args.images} images (warm server, empty browser cache): "
            f"median {statistics.median(runs)} ms, runs {runs}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
