"""Request ids the server makes up: 32 hex digits, never repeated, in every worker its
own (a forked process draws from a freshly seeded generator)."""

from __future__ import annotations

import multiprocessing
import re

from api.request_id import new_request_id, request_id_from


def _draw(out: multiprocessing.SimpleQueue) -> None:  # type: ignore[type-arg]
    out.put([new_request_id() for _ in range(100)])


def test_made_up_ids_are_hex_and_unique_in_every_forked_worker() -> None:
    mine = [new_request_id() for _ in range(10_000)]
    assert all(re.fullmatch("[0-9a-f]{32}", rid) for rid in mine)
    assert len(set(mine)) == len(mine)
    fork = multiprocessing.get_context("fork")
    out = fork.SimpleQueue()
    workers = [fork.Process(target=_draw, args=(out,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    theirs = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    drawn = mine + theirs[0] + theirs[1]
    assert len(set(drawn)) == len(drawn)  # the workers did not repeat this process's draws


def test_a_sane_header_is_kept_and_anything_else_replaced() -> None:
    assert request_id_from([(b"x-request-id", b"req-1.a:b_c")]) == "req-1.a:b_c"
    for bad in (b"a b", b"", b"x" * 129, "é".encode()):
        made = request_id_from([(b"x-request-id", bad)])
        assert re.fullmatch("[0-9a-f]{32}", made), bad
