"""Where the time of one list read goes inside the app: the ASGI app called in process
(no sockets, no HTTP parsing), under cProfile.

    .venv/bin/python -m bench.profile_reads [--requests 2000] [--cache] [--top 25]

Seeds 10 images for one owner (the `bench.list_query` payload), then sends the list
query straight into the ASGI app and prints the per-request time and cProfile's top
functions by cumulative time. The heap is settled as `meimages serve` settles it
(`settle_heap`: start-up objects frozen out of the cyclic GC's sight), so the figures
leave out the full collections a server does not pay.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from api.app import create_app
from api.auth import issue_token
from api.cli.workers import settle_heap
from api.settings import Settings
from bench.short import parse_args
from storage import migrate
from testbed.graphql import bearer, upload_form, upload_result
from testbed.images import jpeg

WARM_UP = 200  # requests before the timed ones (a quick run, whose figures are not judged: 10)
LIST_QUERY = """query MeImages { meImages {
  id kind label tags mediaId storagePath publicUrl thumbnailUrl contentType width height
  usage { aiReference showInProfile } primaryFor createdAt updatedAt } }"""


async def asgi_call(app: Any, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never: the app does not read past the body
        return {}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="meimages-profile-") as data:
        await profile_reads(args, Path(data))


async def profile_reads(args: argparse.Namespace, data: Path) -> None:
    import httpx

    # The per-owner rate limit off: it would answer part of the profiled reads with 429s.
    settings = Settings(
        data_dir=data,
        query_cache_entries=10_000 if args.cache else 0,
        rate_requests_per_second=0,
    )
    app = create_app(settings)
    await migrate.upgrade(app.state.server.stores.db)
    token = issue_token(app.state.server.settings, "bench")
    settle_heap()  # as `meimages serve` does once the app is built
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        for i in range(10):
            form = upload_form(
                jpeg(i, size=(64, 48)),
                fields="__typename ... on MeImage { id }",
                input={
                    "label": f"reference photo {i}",
                    "tags": ["studio", f"t{i}"],
                    "kind": "FACE",
                },
                filename="a.jpg",
            )
            upload_result(
                await http.post("/graphql", headers=bearer(token, preflight=True), **form)
            )
    body = json.dumps({"query": LIST_QUERY}).encode()
    headers = [
        (b"host", b"127.0.0.1"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    status, answer = await asgi_call(app, body, headers)
    assert status == 200 and len(json.loads(answer)["data"]["meImages"]) == 10, answer[:300]
    for _ in range(WARM_UP if not args.quick else 10):  # warm every cache
        await asgi_call(app, body, headers)
    start = time.perf_counter()
    for _ in range(args.requests):
        await asgi_call(app, body, headers)
    per = (time.perf_counter() - start) / args.requests
    print(f"{per * 1e6:.0f} us per request in process ({1 / per:.0f}/s), cache={args.cache}")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.requests):
        await asgi_call(app, body, headers)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    asyncio.run(main(parse_args(parser, requests=50, top=5)))
