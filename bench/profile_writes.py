"""Where the time of one `setPrimary` swap goes: through the ASGI app called in process
(no sockets, no HTTP parsing), and through the rule alone (`set_primary`), under cProfile.

    .venv/bin/python -m bench.profile_writes [--swaps 2000] [--top 25] [--rule] [--toggle]

Uploads two images of one owner, then has them take the face-ref slot in turn (with
`--toggle`: turns the first one's AI opt-in on and off, `setAiReferenceEnabled` and
`set_ai_reference`). Prints, per write, the wall time and the main thread's CPU time (the
event loop's share: the database work runs on the driver's thread), then cProfile's top
functions by the main thread's CPU time and its Python calls per write (function calls
counted by cProfile, built-ins included: unlike the times, they do not depend on load).
The heap is settled as `meimages serve` settles it (`settle_heap`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from api.app import create_app
from api.auth import issue_token
from api.cli.workers import settle_heap
from api.settings import Settings
from bench.profile_reads import asgi_call
from bench.short import parse_args
from resolvers.pool.me_images import Slot, list_images, set_ai_reference, set_primary
from resolvers.stores import Caller
from storage import migrate
from testbed.graphql import bearer, upload_form, upload_result
from testbed.images import jpeg

SET_PRIMARY = (
    "mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF)"
    " { __typename ... on MeImage { id primaryFor } } }"
)
TOGGLE = (
    "mutation($id: ID!, $on: Boolean!) { setAiReferenceEnabled(id: $id, enabled: $on)"
    " { __typename ... on MeImage { id usage { aiReference } } } }"
)
OWNER = "bench-writer"
WARM_UP = 200  # writes before the timed ones (a quick run, whose figures are not judged: 10)


async def _timed(swap: Callable[[int], Awaitable[None]], n: int) -> tuple[float, float]:
    """Wall and main-thread CPU seconds per swap over `n` swaps."""
    wall, cpu = time.perf_counter(), time.thread_time()
    for i in range(n):
        await swap(i)
    return (time.perf_counter() - wall) / n, (time.thread_time() - cpu) / n


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="meimages-profile-") as data:
        await profile_writes(args, Path(data))


async def profile_writes(args: argparse.Namespace, data: Path) -> None:
    settings = Settings(data_dir=data, rate_requests_per_second=0)
    app = create_app(settings)
    stores = app.state.server.stores
    await migrate.upgrade(stores.db)
    settle_heap()  # as `meimages serve` does once the app is built
    token = issue_token(app.state.server.settings, OWNER)
    ids: list[str] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        for i in range(2):
            form = upload_form(
                jpeg(i, size=(64, 48)),
                fields="__typename ... on MeImage { id }",
                input={"label": f"photo {i}", "kind": "FACE"},
                filename="a.jpg",
            )
            response = await http.post("/graphql", headers=bearer(token, preflight=True), **form)
            ids.append(str(upload_result(response)["id"]))
    if args.toggle:
        bodies = [
            json.dumps({"query": TOGGLE, "variables": {"id": ids[0], "on": on}}).encode()
            for on in (True, False)
        ]
        answered = b'"aiReference"'

    else:
        bodies = [json.dumps({"query": SET_PRIMARY, "variables": {"id": i}}).encode() for i in ids]
        answered = b"FACE_REF"
    headers = [
        (b"host", b"127.0.0.1"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
    ]

    async def over_http(n: int) -> None:
        body = bodies[n % 2]
        sized = [*headers, (b"content-length", str(len(body)).encode())]
        status, answer = await asgi_call(app, body, sized)
        assert status == 200 and answered in answer and b"errors" not in answer, answer[:300]

    caller = Caller(OWNER)
    images = [image.id for image in await list_images(stores, caller)]

    async def rule(n: int) -> None:
        if args.toggle:
            image = await set_ai_reference(stores, caller, images[0], n % 2 == 0)
            assert image.ai_reference is (n % 2 == 0)
            return
        image = await set_primary(stores, caller, images[n % 2], Slot.FACE_REF)
        assert image.primary_for is Slot.FACE_REF

    paths = {"rule": rule, "http": over_http}
    for name, swap in paths.items():
        await _timed(swap, WARM_UP if not args.quick else 10)  # warm every cache
        wall, cpu = await _timed(swap, args.swaps)
        print(
            f"{name:5} {wall * 1e6:7.0f} us per write, {cpu * 1e6:7.0f} us of main-thread CPU"
            f" ({1 / wall:.0f}/s)"
        )
    swap = paths["rule" if args.rule else "http"]
    # Timed by the main thread's CPU clock: what the event loop spends, not its waits.
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    for i in range(args.swaps):
        await swap(i)
    profile.disable()
    if args.save:
        profile.dump_stats(args.save)
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    calls: int = stats.total_calls  # type: ignore[attr-defined]  # set by Stats, not in its stub
    print(f"{calls / args.swaps:.0f} Python calls per write ({args.swaps} writes)")
    await stores.db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--swaps", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rule", action="store_true", help="profile the rule, not the app")
    parser.add_argument(
        "--toggle", action="store_true", help="setAiReferenceEnabled instead of setPrimary"
    )
    parser.add_argument("--save", help="also write the profile to this file (pstats)")
    asyncio.run(main(parse_args(parser, swaps=50, top=5)))
