"""The extensions' lifecycle hooks run as Strawberry's own runner runs them: the same
order, the same errors out, the same errors swallowed or replaced (a differential test
against `strawberry.extensions.context`, over hooks that misbehave in every known way)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import OperationContextManager
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.strawberry_compat import LifecycleRunner

# What each hook does: before its yield, and with what comes back to it.
BEHAVIOURS = (
    "plain",  # yield once
    "swallow",  # catch the stage's error and end
    "replace",  # catch the stage's error and raise another
    "fail-after",  # raise after the yield, error or not
    "fail-before",  # raise before yielding
    "no-yield",  # end without yielding
    "twice",  # yield again after the stage
    "reraise",  # catch the stage's error and raise it again
)
# What the stage itself does.
STAGES = ("ok", "error", "stop-iteration")


def _extension(behaviour: str, is_async: bool, log: list[str]) -> SchemaExtension:
    def steps(name: str) -> Generator[None]:
        """The hook's script, as a generator of what it yields (or raises)."""
        log.append(f"{name} enter")
        if behaviour == "fail-before":
            raise ValueError(f"{name} before")
        if behaviour == "no-yield":
            return
        try:
            yield
        except Exception as exc:
            log.append(f"{name} saw {type(exc).__name__}")
            if behaviour == "swallow":
                return
            if behaviour == "replace":
                raise KeyError(name) from exc
            if behaviour == "reraise":
                raise
            if behaviour == "twice":
                yield
            raise
        log.append(f"{name} leave")
        if behaviour == "fail-after":
            raise LookupError(f"{name} after")
        if behaviour == "twice":
            yield

    name = f"{behaviour}{'-async' if is_async else ''}"
    if is_async:

        class AsyncHooks(SchemaExtension):
            async def on_operation(self) -> AsyncIterator[None]:
                # The same script, stepped by hand: what the stage raises is thrown in.
                script = steps(name)
                try:
                    next(script)
                    while True:
                        try:
                            yield
                        except Exception as exc:
                            script.throw(exc)
                        else:
                            next(script)
                except StopIteration:
                    return

        return AsyncHooks()

    class Hooks(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            yield from steps(name)

    return Hooks()


def _called(is_async: bool, log: list[str]) -> SchemaExtension:
    """A hook that is a plain method: called before the stage, nothing after."""
    if is_async:

        class AsyncCalled(SchemaExtension):
            async def on_operation(self) -> None:  # type: ignore[override]
                log.append("called-async")

        return AsyncCalled()

    class Called(SchemaExtension):
        def on_operation(self) -> None:  # type: ignore[override]
            log.append("called")

    return Called()


def _outcome(error: BaseException | None) -> str:
    if error is None:
        return "no error"
    cause = error.__cause__
    return f"{type(error).__name__}({error}) from {type(cause).__name__ if cause else None}"


async def _run(manager: Any, stage: str, log: list[str]) -> str:
    try:
        async with manager:
            log.append("stage")
            if stage == "error":
                raise ZeroDivisionError("stage")
            if stage == "stop-iteration":
                raise StopIteration
    except BaseException as exc:
        return _outcome(exc)
    return "no error"


def _run_sync(manager: Any, stage: str, log: list[str]) -> str:
    try:
        with manager:
            log.append("stage")
            if stage == "error":
                raise ZeroDivisionError("stage")
    except BaseException as exc:
        return _outcome(exc)
    return "no error"


def _scenarios() -> list[tuple[tuple[str, ...], bool, str]]:
    pairs = list(itertools.product(BEHAVIOURS, repeat=2))
    return [
        (pair, is_async, stage) for pair in pairs for is_async in (False, True) for stage in STAGES
    ]


@pytest.mark.parametrize(("behaviours", "is_async", "stage"), _scenarios())
def test_hooks_run_as_strawberry_runs_them(
    behaviours: tuple[str, ...], is_async: bool, stage: str
) -> None:
    def build(log: list[str]) -> list[SchemaExtension]:
        # The second hook async when asked: a mix of both kinds, as in the schema.
        return [
            _called(False, log),
            _extension(behaviours[0], False, log),
            _extension(behaviours[1], is_async, log),
            _called(is_async, log),
        ]

    theirs: list[str] = []
    ours: list[str] = []
    expected = asyncio.run(_run(OperationContextManager(build(theirs)), stage, theirs))
    runner = LifecycleRunner(None, build(ours))  # type: ignore[arg-type]
    got = asyncio.run(_run(runner.operation(), stage, ours))
    assert (got, ours) == (expected, theirs)


@pytest.mark.parametrize(
    ("behaviours", "stage"),
    list(itertools.product(itertools.product(BEHAVIOURS, repeat=2), ("ok", "error"))),
)
def test_sync_stages_run_as_strawberry_runs_them(behaviours: tuple[str, ...], stage: str) -> None:
    def build(log: list[str]) -> list[SchemaExtension]:
        return [_extension(behaviour, False, log) for behaviour in behaviours]

    theirs: list[str] = []
    ours: list[str] = []
    expected = _run_sync(OperationContextManager(build(theirs)), stage, theirs)
    runner = LifecycleRunner(None, build(ours))  # type: ignore[arg-type]
    assert (_run_sync(runner.operation(), stage, ours), ours) == (expected, theirs)


def test_a_sync_stage_refuses_an_async_hook() -> None:
    log: list[str] = []
    runner = LifecycleRunner(None, [_extension("plain", True, log)])  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="failed to complete synchronously"), runner.operation():
        pass


def test_hooks_keep_the_extension_order_in_every_stage() -> None:
    seen: list[str] = []

    class First(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            seen.append("first parse")
            yield

        def on_execute(self) -> Iterator[None]:
            seen.append("first execute")
            yield

    class Second(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            seen.append("second parse")
            yield
            seen.append("second parsed")

        def on_validate(self) -> Iterator[None]:
            seen.append("second validate")
            yield

    runner = LifecycleRunner(None, [First(), Second()])  # type: ignore[arg-type]
    for stage in (runner.parsing(), runner.validation(), runner.executing()):
        with stage:
            seen.append("-")
    assert seen == [
        "first parse",
        "second parse",
        "-",
        "second parsed",
        "second validate",
        "-",
        "first execute",
        "-",
    ]


def test_results_come_from_the_extensions_that_have_some() -> None:
    class Sync(SchemaExtension):
        def get_results(self) -> dict[str, Any]:
            return {"sync": 1, "shared": "sync"}

    class Async(SchemaExtension):
        async def get_results(self) -> dict[str, Any]:
            return {"async": 2, "shared": "async"}

    class Quiet(SchemaExtension):
        pass

    class Context:
        extensions_results = {"context": 3}

    runner = LifecycleRunner(None, [Quiet(), Sync(), Async(), Quiet()])  # type: ignore[arg-type]
    results = asyncio.run(runner.get_extensions_results(Context()))  # type: ignore[arg-type]
    theirs = SchemaExtensionsRunner(None, [Quiet(), Sync(), Async()])  # type: ignore[arg-type]
    assert results == asyncio.run(theirs.get_extensions_results(Context()))  # type: ignore[arg-type]
    assert results == {"sync": 1, "async": 2, "shared": "async", "context": 3}
