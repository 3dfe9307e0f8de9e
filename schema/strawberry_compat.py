"""Strawberry's internals, touched here and nowhere else (the transport's are fenced in
`api.views.graphql_transport`).

The schema's graphql-core schema (`Schema._schema`), whether an extension wraps every
resolver (`SchemaExtension._implements_resolve`), the `Info` a resolver receives (built
from its private fields), the default-resolver mark, and names that live in Strawberry's
modules without being exported: validation with given rules, the graphql-core execution
context it subclasses (and the memos graphql-core's executor keeps), its awaitable check,
the serializer of its date and time scalars (`base_scalars.isoformat`); and how the
extensions' lifecycle hooks run (`SchemaExtensionsRunner`, whose context managers
`HookedSchema` replaces with `LifecycleHooks`).
`WRITTEN_FOR` names the versions read;
`tests/test_library_fences.py` fails when the installed one is another.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import Any

from graphql import GraphQLEnumType, GraphQLObjectType, GraphQLSchema
from graphql.pyutils import RefMap
from strawberry import Schema
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document
from strawberry.schema.schema_converter import CustomGraphQLEnumType
from strawberry.schema.types.base_scalars import isoformat as _strawberry_isoformat
from strawberry.types import ExecutionContext, Info
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"strawberry-graphql": "0.341.", "graphql-core": "3.3."}

__all__ = [
    "TYPE_CAST_ATTRIBUTE",
    "WRITTEN_FOR",
    "HookedSchema",
    "StrawberryGraphQLCoreExecutionContext",
    "converted_arguments",
    "enum_class",
    "fresh_event_memos",
    "graphql_schema",
    "has_exception_handlers",
    "is_plain_attribute",
    "object_class",
    "optimized_is_awaitable",
    "report_errors",
    "resolver_info",
    "serializes_by_isoformat",
    "validate_document",
    "wraps_resolvers",
]


def graphql_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built (its own extensions read it the same way)."""
    built: GraphQLSchema = schema._schema
    return built


def wraps_resolvers(extension: SchemaExtension | type[SchemaExtension]) -> bool:
    """Whether a schema extension implements `resolve` (then it must see every field)."""
    return extension._implements_resolve()


def resolver_info(raw_info: Any, field: Any) -> Info[Any, Any]:
    """The `Info` Strawberry hands a resolver, for graphql-core's resolve info of `field`."""
    return Info(_raw_info=raw_info, _field=field)


def is_plain_attribute(resolve: Callable[..., Any]) -> bool:
    """Whether a field's graphql-core resolver is Strawberry's default (attribute) one."""
    return bool(is_default_resolver(resolve))


def serializes_by_isoformat(serialize: Callable[[Any], Any]) -> bool:
    """Whether a scalar's `serialize` is Strawberry's own for its date and time scalars
    (`value.isoformat()`, a function of the value alone)."""
    return serialize is _strawberry_isoformat


_CONVERTER = CustomGraphQLEnumType.__module__


def object_class(type_: GraphQLObjectType) -> type | None:
    """The class whose instances Strawberry's own `is_type_of` of `type_` accepts when
    they carry no `strawberry.cast` mark (`TYPE_CAST_ATTRIBUTE`), or None when the type
    declares an `is_type_of` of its own (then nothing is known without calling it)."""
    definition = (type_.extensions or {}).get("strawberry-definition")
    if not isinstance(definition, StrawberryObjectDefinition) or definition.is_type_of:
        return None
    check = type_.is_type_of
    if check is not None and getattr(check, "__module__", None) != _CONVERTER:
        return None  # replaced after Strawberry built the type
    origin = definition.origin
    return origin if isinstance(origin, type) else None


def enum_class(type_: GraphQLEnumType) -> type | None:
    """The Python enum whose members a Strawberry enum type serialises by their value
    alone (`CustomGraphQLEnumType.serialize`), or None for any other enum type."""
    if type(type_) is not CustomGraphQLEnumType:
        return None
    wrapped = type_.wrapped_cls
    return wrapped if isinstance(wrapped, type) else None


def has_exception_handlers(schema: Schema, field: Any) -> bool:
    """Whether an exception handler of the schema may turn an error of `field` into a
    typed result (Strawberry's resolver wrapper then catches it; the same check it makes
    when it builds the field)."""
    return bool(schema.schema_converter._get_field_exception_handlers(field))


def converted_arguments(schema: Schema, field: Any, values: dict[str, Any]) -> dict[str, Any]:
    """A field's arguments as its resolver receives them, from graphql-core's coerced
    values: what Strawberry's resolver wrapper does before the call (`get_arguments`),
    for a field without field extensions (those may reshape them)."""
    return convert_arguments(
        values,
        field.arguments,
        scalar_registry=schema.schema_converter.scalar_registry,
        config=schema.config,
        info=None,
    )


def fresh_event_memos(executor: Any) -> None:
    """Give a subscription event's executor memos of its own.

    graphql-core's `build_per_event_executor` copies the subscription's executor
    shallowly, so every event's executor shares its memo of collected subfields (and of
    stream usages). That memo is keyed by each execution's own field lists, which are new
    for every event: shared, it kept an entry per event for the subscription's whole life
    (graphql-core 3.3.2). Owned by the event's executor, it goes with it."""
    executor._relevant_sub_fields = {}
    executor._stream_usages = RefMap()


def report_errors(schema: Schema, errors: list[Any]) -> None:
    """Log a result's errors as Strawberry logs those of the results it hands out
    (`_process_errors`, which also drops field suggestions when they are off)."""
    schema._process_errors(errors)


# The lifecycle hooks `SchemaExtensionsRunner` runs around a stage, by the name of the
# `SchemaExtension` method.
_STAGES = ("on_operation", "on_parse", "on_validate", "on_execute")
_Hook = tuple[Callable[[SchemaExtension], Any], bool]  # (generator function, is async)


def _stage_hooks(cls: type[SchemaExtension]) -> tuple[_Hook | None, ...]:
    """Each stage's hook of an extension class as a generator function (None: the class
    keeps SchemaExtension's no-op, which Strawberry skips too). Read as Strawberry's
    context managers read it (`ExtensionContextManagerBase.get_hook`): a generator or
    async generator method runs around the stage, any other callable before it."""
    hooks: list[_Hook | None] = []
    for name in _STAGES:
        hook = getattr(cls, name)
        if hook is getattr(SchemaExtension, name):
            hooks.append(None)
        elif inspect.isgeneratorfunction(hook):
            hooks.append((hook, False))
        elif inspect.isasyncgenfunction(hook):
            hooks.append((hook, True))
        elif callable(hook):
            hooks.append(_called_before(hook))
        else:
            raise ValueError(f"Hook {name} on {cls} must be callable, received {hook!r}")
    return tuple(hooks)


def _called_before(hook: Callable[[SchemaExtension], Any]) -> _Hook:
    if inspect.iscoroutinefunction(hook):

        async def awaited(extension: SchemaExtension) -> AsyncIterator[None]:
            await hook(extension)
            yield

        return awaited, True

    def called(extension: SchemaExtension) -> Iterator[None]:
        hook(extension)
        yield

    return called, False


class LifecycleHooks:
    """The hooks of one lifecycle stage of one operation, entered in the extensions'
    order and left in reverse, as Strawberry's own context managers run them (an
    `ExitStack` of `contextlib.contextmanager`s, built per stage and per request), with
    the same results: a hook that does not yield, or yields twice, is a RuntimeError; an
    error inside the stage is thrown into each hook in turn, which may replace or
    swallow it; a hook failing on entry leaves the ones entered before it unfinished.

    What differs is the cost: the hooks are sorted once per extension class, not per
    stage and request, and each is a generator stepped by hand instead of a context
    manager made for it (several hundred Python calls per operation less).

    Like Strawberry's, a stage never swallows its own error: a hook that does hides it
    from the hooks left after it only."""

    __slots__ = ("_entered", "_hooks")

    def __init__(self, hooks: Sequence[tuple[SchemaExtension, _Hook]]) -> None:
        self._hooks = hooks
        self._entered: list[tuple[Generator[None] | AsyncGenerator[None], bool]] = []

    def __enter__(self) -> None:
        for extension, (hook, is_async) in self._hooks:
            if is_async:
                raise RuntimeError(
                    f"SchemaExtension hook {extension}.{hook.__name__} "
                    "failed to complete synchronously."
                )
            generator = hook(extension)
            try:
                next(generator)
            except StopIteration:
                raise RuntimeError("generator didn't yield") from None
            self._entered.append((generator, False))

    async def __aenter__(self) -> None:
        for extension, (hook, is_async) in self._hooks:
            if is_async:
                running = hook(extension)
                try:
                    await anext(running)
                except StopAsyncIteration:
                    raise RuntimeError("generator didn't yield") from None
                self._entered.append((running, True))
            else:
                generator = hook(extension)
                try:
                    next(generator)
                except StopIteration:
                    raise RuntimeError("generator didn't yield") from None
                self._entered.append((generator, False))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pending = False
        entered = self._entered
        while entered:
            generator, _ = entered.pop()
            try:
                if _leave(generator, exc_type, exc, tb):  # type: ignore[arg-type]
                    pending = False
                    exc_type = exc = tb = None
            except BaseException:
                exc_type, exc, tb = sys.exc_info()
                pending = True
        if pending:
            _reraise(exc)
        # Strawberry's managers drop their exit stack's verdict: a hook that swallows
        # the stage's error hides it from the hooks left after it, not from the caller.

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # `AsyncExitStack.__aexit__`'s walk, over generators instead of context managers.
        pending = False
        entered = self._entered
        while entered:
            generator, is_async = entered.pop()
            try:
                if is_async:
                    done = await _aleave(generator, exc_type, exc, tb)  # type: ignore[arg-type]
                else:
                    done = _leave(generator, exc_type, exc, tb)  # type: ignore[arg-type]
                if done:
                    pending = False
                    exc_type = exc = tb = None
            except BaseException:
                exc_type, exc, tb = sys.exc_info()
                pending = True
        if pending:
            _reraise(exc)
        # Strawberry's managers drop their exit stack's verdict: a hook that swallows
        # the stage's error hides it from the hooks left after it, not from the caller.


def _reraise(exc: BaseException | None) -> None:
    assert exc is not None
    context = exc.__context__
    try:
        raise exc
    except BaseException:
        exc.__context__ = context  # as the exit stack left it, not this frame's
        raise


def _leave(
    generator: Generator[None],
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    """`contextlib.contextmanager`'s exit: whether the hook swallowed the error."""
    if exc_type is None:
        try:
            next(generator)
        except StopIteration:
            return False
        raise RuntimeError("generator didn't stop")
    if exc is None:
        exc = exc_type()
    try:
        generator.throw(exc)
    except StopIteration as stopped:
        return stopped is not exc
    except RuntimeError as error:
        if error is exc:
            error.__traceback__ = tb
            return False
        if isinstance(exc, StopIteration) and error.__cause__ is exc:
            exc.__traceback__ = tb
            return False
        raise
    except BaseException as error:
        if error is not exc:
            raise
        error.__traceback__ = tb
        return False
    try:
        raise RuntimeError("generator didn't stop after throw()")
    finally:
        generator.close()


async def _aleave(
    generator: AsyncGenerator[None],
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    """`contextlib.asynccontextmanager`'s exit: whether the hook swallowed the error."""
    if exc_type is None:
        try:
            await anext(generator)
        except StopAsyncIteration:
            return False
        raise RuntimeError("generator didn't stop")
    if exc is None:
        exc = exc_type()
    try:
        await generator.athrow(exc)
    except StopAsyncIteration as stopped:
        return stopped is not exc
    except RuntimeError as error:
        if error is exc:
            error.__traceback__ = tb
            return False
        if isinstance(exc, (StopIteration, StopAsyncIteration)) and error.__cause__ is exc:
            exc.__traceback__ = tb
            return False
        raise
    except BaseException as error:
        if error is not exc:
            raise
        error.__traceback__ = tb
        return False
    try:
        raise RuntimeError("generator didn't stop after athrow()")
    finally:
        await generator.aclose()


# The hooks of each extension class, by class (a handful per schema).
_HOOKS_BY_CLASS: dict[type[SchemaExtension], tuple[_Hook | None, ...]] = {}
# Whether an extension class has results of its own (`get_results`; the default: none).
_REPORTS_BY_CLASS: dict[type[SchemaExtension], bool] = {}


class LifecycleRunner(SchemaExtensionsRunner):
    """Strawberry's runner with `LifecycleHooks` around the operation, parsing,
    validation and execution (streamed results keep Strawberry's own), which asks
    only the extensions with results of their own for them."""

    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None
    ) -> None:
        super().__init__(execution_context, extensions)
        stages: tuple[list[tuple[SchemaExtension, _Hook]], ...] = ([], [], [], [])
        reporting: list[SchemaExtension] = []
        for extension in self.extensions:
            cls = type(extension)
            hooks = _HOOKS_BY_CLASS.get(cls)
            if hooks is None:
                hooks = _HOOKS_BY_CLASS[cls] = _stage_hooks(cls)
                _REPORTS_BY_CLASS[cls] = cls.get_results is not SchemaExtension.get_results
            for stage, hook in zip(stages, hooks, strict=True):
                if hook is not None:
                    stage.append((extension, hook))
            if _REPORTS_BY_CLASS[cls]:
                reporting.append(extension)
        self._stages = stages
        self._reporting = reporting

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        # As Strawberry's, without asking the extensions whose results are always {}.
        data: dict[str, Any] = {}
        for extension in self._reporting:
            results = extension.get_results()
            data.update(await results if inspect.isawaitable(results) else results)
        data.update(ctx.extensions_results)
        return data

    def operation(self) -> LifecycleHooks:  # type: ignore[override]
        return LifecycleHooks(self._stages[0])

    def parsing(self) -> LifecycleHooks:  # type: ignore[override]
        return LifecycleHooks(self._stages[1])

    def validation(self) -> LifecycleHooks:  # type: ignore[override]
        return LifecycleHooks(self._stages[2])

    def executing(self) -> LifecycleHooks:  # type: ignore[override]
        return LifecycleHooks(self._stages[3])


class HookedSchema(Schema):
    """A Strawberry schema whose extensions' hooks run through `LifecycleRunner`."""

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return LifecycleRunner(execution_context, extensions)
