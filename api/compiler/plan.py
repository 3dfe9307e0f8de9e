"""A query plan: one validated operation, compiled once into closures that build the
response straight from the objects the resolvers return (what graphql-jit does for
graphql-js).

The plan calls the schema's own resolvers (so every rule stays where it is) and the
types' own `serialize`, with the resolve info graphql-core would build; it leaves out
graphql-core's per-field bookkeeping. It covers what a read needs: fields, aliases,
fragments, `@skip`/`@include`, lists, nulls, enums, unions and interfaces, `__typename`.
Whatever it does not cover is refused when compiling (`compile_plan` answers None), and
whatever goes wrong while running (a resolver raising, a null in a non-null field, a value
that does not serialise) raises `Fallback`: graphql-core then runs the request and writes
any error response, so a plan never answers with an error of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationType,
    Undefined,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from strawberry.types import Info as StrawberryInfo

from api.compiler.graphql_core import (
    Executor,
    Selected,
    argument_values,
    gather_with_cancel,
    is_iterable,
    resolve_info,
    root_fields,
    subfields,
)
from schema.strawberry_compat import is_plain_attribute, optimized_is_awaitable, resolver_info


class Fallback(Exception):
    """The plan does not answer this request; graphql-core runs it instead."""


class _Run:
    """One execution of a plan: its executor, and the resolve infos and arguments of
    each field, built on first use (they are the same for every object of a list)."""

    __slots__ = ("args", "executor", "infos", "strawberry_infos")

    def __init__(self, executor: Executor[Any], slots: int) -> None:
        self.executor = executor
        self.infos: list[Any] = [None] * slots
        self.strawberry_infos: list[Any] = [None] * slots
        self.args: list[dict[str, Any] | None] = [None] * slots


# A completion turns a resolved value into its JSON form, or into an awaitable of it when
# a resolver below is async; `may_await` says whether it can (only objects can: their
# fields' resolvers may be async).
Completion = Callable[[Any, _Run], Any]


@dataclass(frozen=True)
class _Completer:
    complete: Completion
    may_await: bool


@dataclass(frozen=True, eq=False)
class _Site:
    """Where a field is selected: what its resolve info and arguments are made of."""

    key: str
    slot: int
    parent_type: GraphQLObjectType
    definition: GraphQLField
    selected: Selected

    def info(self, run: _Run) -> Any:
        info = run.infos[self.slot]
        if info is None:
            info = resolve_info(
                run.executor, self.definition, self.selected.nodes, self.parent_type, self.key
            )
            run.infos[self.slot] = info
        return info

    def strawberry_info(self, run: _Run) -> Any:
        """The `Info` a Strawberry resolver receives, made once per run like `info`."""
        info = run.strawberry_infos[self.slot]
        if info is None:
            field = self.definition.extensions["strawberry-definition"]
            info = resolver_info(self.info(run), field)
            run.strawberry_infos[self.slot] = info
        return info

    def arguments(self, run: _Run) -> dict[str, Any]:
        args = run.args[self.slot]
        if args is None:
            args = argument_values(run.executor, self.definition, self.selected)
            run.args[self.slot] = args
        return args


@dataclass(frozen=True, eq=False)
class _Field:
    key: str
    site: _Site
    resolve: Callable[..., Any]
    # A plain attribute of the source (Strawberry's "basic" field): read it directly.
    attribute: str | None
    # A resolver without arguments returning a scalar: called without Strawberry's wrapper.
    direct: Callable[[Any, Any], Any] | None
    # Strawberry marks plain attribute fields: they need neither info nor arguments.
    basic: bool
    takes_args: bool
    completer: _Completer
    # A scalar or enum field is serialised in place, without a completer call.
    serialize: Callable[[Any], Any] | None
    non_null: bool


@dataclass(frozen=True, eq=False)
class _TypeName:
    key: str
    name: str


_Selection = _Field | _TypeName


class Plan:
    """A compiled query operation; `run` answers with the `data` of the response."""

    def __init__(self, root: Completion, slots: int):
        self._root = root
        self._slots = slots

    async def run(self, executor: Executor[Any]) -> dict[str, Any]:
        try:
            data = self._root(executor.root_value, _Run(executor, self._slots))
            return cast("dict[str, Any]", await _settled(data))
        except Fallback:
            raise
        except Exception as exc:
            raise Fallback from exc


class _Unsupported(Exception):
    """The document uses something the compiler leaves to graphql-core."""


def compile_plan(schema: GraphQLSchema, executor: Executor[Any]) -> Plan | None:
    """The plan of the executor's operation under its variables' `@skip`/`@include`
    values, or None when graphql-core should run it."""
    operation = executor.operation
    if operation.operation is not OperationType.QUERY or schema.query_type is None:
        return None
    compiler = _Compiler(schema, executor)
    try:
        selection = root_fields(schema, executor)
        if selection is None:
            return None
        root = compiler.object_fields(schema.query_type, selection)
    except (_Unsupported, GraphQLError):
        # GraphQLError: a switch that does not coerce (`@include(if: null)`); the
        # executor reports it.
        return None
    return Plan(_object_completion(root), compiler.slots)


class _Compiler:
    def __init__(self, schema: GraphQLSchema, executor: Executor[Any]) -> None:
        self.schema = schema
        self.executor = executor
        self.slots = 0

    def object_fields(
        self, parent: GraphQLObjectType, selection: list[Selected]
    ) -> list[_Selection]:
        selections: list[_Selection] = []
        for selected in selection:
            key, name = selected.key, selected.nodes[0].name.value
            if name == "__typename":
                selections.append(_TypeName(key, parent.name))
                continue
            if name.startswith("__"):
                raise _Unsupported("introspection")
            definition = parent.fields.get(name)
            if definition is None:
                raise _Unsupported(f"unknown field {name}")
            resolve = definition.resolve
            if resolve is None:
                raise _Unsupported("a field without its own resolver")
            site = _Site(
                key=key,
                slot=self.slots,
                parent_type=parent,
                definition=definition,
                selected=selected,
            )
            self.slots += 1
            basic = is_plain_attribute(resolve)
            type_ = definition.type
            leaf = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
            selections.append(
                _Field(
                    key=key,
                    site=site,
                    resolve=resolve,
                    attribute=_plain_attribute(definition) if basic else None,
                    direct=None if basic else _direct_call(self.schema, definition, leaf),
                    basic=basic,
                    takes_args=bool(definition.args or selected.nodes[0].arguments),
                    completer=self.completer(definition.type, site),
                    serialize=leaf.serialize if is_leaf_type(leaf) else None,
                    non_null=is_non_null_type(definition.type),
                )
            )
        return selections

    def completer(self, type_: GraphQLOutputType, site: _Site) -> _Completer:
        if is_non_null_type(type_):
            assert isinstance(type_, GraphQLNonNull)
            return _non_null(self.completer(type_.of_type, site))
        if is_list_type(type_):
            assert isinstance(type_, GraphQLList)
            return _nullable(_list(self.completer(type_.of_type, site)))
        if is_leaf_type(type_):
            return _nullable(_leaf(type_.serialize))
        if is_object_type(type_):
            assert isinstance(type_, GraphQLObjectType)
            return _nullable(self.object_completer(type_, site))
        if is_abstract_type(type_):
            return _nullable(self.abstract_completer(type_, site))
        raise _Unsupported(f"type {type_}")

    def object_completer(self, type_: GraphQLObjectType, site: _Site) -> _Completer:
        selection = subfields(self.schema, self.executor, type_, site.selected.details)
        if selection is None:
            raise _Unsupported("@defer or fragment variables")
        fields = _object_completion(self.object_fields(type_, selection))
        is_type_of = type_.is_type_of
        if is_type_of is None:
            return _Completer(fields, True)

        def checked(value: Any, run: _Run) -> Any:
            if is_type_of(value, site.info(run)) is not True:
                raise Fallback
            return fields(value, run)

        return _Completer(checked, True)

    def abstract_completer(self, type_: GraphQLAbstractType, site: _Site) -> _Completer:
        resolve_type = type_.resolve_type
        if resolve_type is None:
            raise _Unsupported("an abstract type without resolve_type")
        members = {
            member.name: self.object_completer(member, site).complete
            for member in self.schema.get_possible_types(type_)
        }

        def member_of(name: object) -> Completion:
            member = members.get(name) if isinstance(name, str) else None
            if member is None:
                raise Fallback
            return member

        async def complete_later(name: Awaitable[object], value: Any, run: _Run) -> Any:
            return await _settled(member_of(await name)(value, run))

        def complete(value: Any, run: _Run) -> Any:
            name = resolve_type(value, site.info(run), type_)
            if optimized_is_awaitable(name):
                return complete_later(cast("Awaitable[object]", name), value, run)
            return member_of(name)(value, run)

        return _Completer(complete, True)


def _direct_call(
    schema: GraphQLSchema, definition: GraphQLField, leaf: GraphQLOutputType
) -> Callable[[Any, Any], Any] | None:
    """The field's resolver function called the way Strawberry calls it (source as
    `self` or `root`/`parent`, its `Info` as `info`), for a synchronous resolver without
    arguments or field extensions whose result is a scalar or enum: with no arguments to
    convert and no union for an exception handler to fill, Strawberry's wrapper adds
    nothing else. None for any other field."""
    field = (definition.extensions or {}).get("strawberry-definition")
    strawberry_schema = (schema.extensions or {}).get("strawberry-definition")
    resolver = getattr(field, "base_resolver", None)
    if field is None or resolver is None or not is_leaf_type(leaf) or definition.args:
        return None
    config = getattr(strawberry_schema, "config", None)
    if getattr(config, "info_class", None) is not StrawberryInfo:
        return None
    if field.extensions or field.arguments or field.is_async or resolver.is_async:
        return None
    function = resolver.wrapped_func
    takes_self = resolver.self_parameter is not None
    source_names = [p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None

    def call(source: Any, info: Any) -> Any:
        kwargs = dict.fromkeys(source_names, source)
        if info_name is not None:
            kwargs[info_name] = info
        return function(source, **kwargs) if takes_self else function(**kwargs)

    return call


def _plain_attribute(definition: GraphQLField) -> str | None:
    """The attribute a Strawberry field without resolver reads, when it reads it with
    the built-in `getattr` (the default resolver)."""
    field = (definition.extensions or {}).get("strawberry-definition")
    if field is None or getattr(field, "default_resolver", None) is not getattr:
        return None
    name = getattr(field, "python_name", None)
    return name if isinstance(name, str) else None


# Scalars whose `serialize` hands back a value of this exact class unchanged: the
# generated code skips the call for those (and still calls it for anything else).
_PASS_THROUGH = ((GraphQLString, "str"), (GraphQLID, "str"), (GraphQLBoolean, "bool"))


def _object_completion(selections: Sequence[_Selection]) -> Completion:
    """The function that completes one object of a selection set, generated as Python
    source with one straight run of statements per selected field (no per-field loop
    or dispatch), the way graphql-jit generates JavaScript. It answers the object, or an
    awaitable of it when a field's resolver or completion is async: those are awaited
    together once every field has been started, as graphql-core's `execute_fields` does."""
    names: dict[str, Any] = {
        "Fallback": Fallback,
        "Undefined": Undefined,
        "is_awaitable": optimized_is_awaitable,
        "gathered": _gathered,
        "settle_in_background": _settle_in_background,
    }
    lines = ["def complete(source, run):", "    out = {}", "    pending = []", "    try:"]
    for i, step in enumerate(selections):
        if isinstance(step, _TypeName):
            lines.append(f"        out[{step.key!r}] = {step.name!r}")
            continue
        names[f"site{i}"], names[f"resolve{i}"] = step.site, step.resolve
        lines.extend(_field_lines(i, step, names))
    if not selections:
        lines.append("        pass")
    lines += [
        "    except BaseException:",
        "        settle_in_background([out[key] for key in pending])",
        "        raise",
        "    return gathered(out, pending) if pending else out",
    ]
    exec("\n".join(lines), names)  # the source is built above from names and reprs only
    complete: Completion = names["complete"]
    return complete


def _field_lines(i: int, step: _Field, names: dict[str, Any]) -> list[str]:
    """The statements that resolve one field and put its value (or, when async, the
    awaitable of it, noted in `pending`) under its key in `out`."""
    key, pad = repr(step.key), " " * 8
    names[f"finish{i}"] = _finish(step)
    if step.attribute is not None and step.attribute.isidentifier():
        lines = [f"{pad}value = source.{step.attribute}"]
    elif step.basic:
        lines = [f"{pad}value = resolve{i}(source, None)"]
    elif step.direct is not None:
        names[f"direct{i}"] = step.direct
        lines = [f"{pad}value = direct{i}(source, site{i}.strawberry_info(run))"]
    else:
        args = f"**site{i}.arguments(run)" if step.takes_args else ""
        lines = [
            f"{pad}value = resolve{i}(source, site{i}.info(run), {args})",
            f"{pad}if is_awaitable(value):",
            f"{pad}    out[{key}] = finish{i}(value, run)",
            f"{pad}    pending.append({key})",
            f"{pad}else:",
        ]
        pad += "    "
    lines += [f"{pad}if isinstance(value, Exception):", f"{pad}    raise Fallback"]
    if step.serialize is None:
        names[f"complete{i}"] = step.completer.complete
        lines.append(f"{pad}out[{key}] = complete{i}(value, run)")
        if step.completer.may_await:
            lines += [f"{pad}if is_awaitable(out[{key}]):", f"{pad}    pending.append({key})"]
        return lines
    names[f"serialize{i}"] = step.serialize
    leaf = step.site.definition.type
    leaf = leaf.of_type if isinstance(leaf, GraphQLNonNull) else leaf
    null = "raise Fallback" if step.non_null else f"out[{key}] = None"
    lines += [f"{pad}if value is None or value is Undefined:", f"{pad}    {null}"]
    exact = next((c for t, c in _PASS_THROUGH if t is leaf), None)
    if exact is not None:
        lines += [f"{pad}elif value.__class__ is {exact}:", f"{pad}    out[{key}] = value"]
    return [
        *lines,
        f"{pad}else:",
        f"{pad}    result = serialize{i}(value)",
        f"{pad}    if result is None or result is Undefined:",
        f"{pad}        raise Fallback",
        f"{pad}    out[{key}] = result",
    ]


def _finish(step: _Field) -> Callable[[Awaitable[Any], _Run], Awaitable[Any]]:
    """How a field whose resolver answered an awaitable is completed once it is awaited:
    the same checks the generated statements make for a value at hand."""
    serialize, complete, non_null = step.serialize, step.completer.complete, step.non_null

    async def finish(awaitable: Awaitable[Any], run: _Run) -> Any:
        value = await awaitable
        if isinstance(value, Exception):
            raise Fallback
        if serialize is None:
            return await _settled(complete(value, run))
        if value is None or value is Undefined:
            if non_null:
                raise Fallback
            return None
        result = serialize(value)
        if result is None or result is Undefined:
            raise Fallback
        return result

    return finish


async def _settled(value: Any) -> Any:
    """A completion's result, awaited when it is an awaitable."""
    if optimized_is_awaitable(value):
        return await value
    return value


async def _gathered(out: dict[str, Any], pending: list[str]) -> dict[str, Any]:
    """`out` with its pending fields awaited, together, as graphql-core awaits them."""
    if len(pending) == 1:
        out[pending[0]] = await out[pending[0]]
    else:
        results = await gather_with_cancel(*(out[key] for key in pending))
        out.update(zip(pending, results, strict=True))
    return out


# Awaitables of a completion that failed before awaiting them, kept until they settle.
_SETTLING: set[asyncio.Future[Any]] = set()


def _settle_in_background(awaitables: list[Any]) -> None:
    """Let the awaitables of an abandoned completion finish (their errors dropped), as
    graphql-core does, so none is left never awaited."""
    if not awaitables:
        return
    future = asyncio.ensure_future(asyncio.gather(*awaitables, return_exceptions=True))
    _SETTLING.add(future)
    future.add_done_callback(_SETTLING.discard)


def _non_null(inner: _Completer) -> _Completer:
    complete = inner.complete

    def checked(result: Any) -> Any:
        if result is None:
            raise Fallback
        return result

    async def checked_later(result: Awaitable[Any]) -> Any:
        return checked(await result)

    if not inner.may_await:
        return _Completer(lambda value, run: checked(complete(value, run)), False)

    def non_null(value: Any, run: _Run) -> Any:
        result = complete(value, run)
        if optimized_is_awaitable(result):
            return checked_later(result)
        return checked(result)

    return _Completer(non_null, True)


def _nullable(inner: _Completer) -> _Completer:
    complete = inner.complete

    def nullable(value: Any, run: _Run) -> Any:
        if value is None or value is Undefined:
            return None
        return complete(value, run)

    return _Completer(nullable, inner.may_await)


def _list(item: _Completer) -> _Completer:
    complete = item.complete
    if not item.may_await:

        def list_(value: Any, run: _Run) -> Any:
            if not is_iterable(value):
                raise Fallback
            return [complete(entry, run) for entry in value]

        return _Completer(list_, False)

    def list_items(value: Any, run: _Run) -> Any:
        if not is_iterable(value):
            raise Fallback
        results: list[Any] = []
        pending: list[int] = []
        try:
            for entry in value:
                result = complete(entry, run)
                if optimized_is_awaitable(result):
                    pending.append(len(results))
                results.append(result)
        except BaseException:
            _settle_in_background([results[index] for index in pending])
            raise
        return _gathered_items(results, pending) if pending else results

    return _Completer(list_items, True)


async def _gathered_items(results: list[Any], pending: list[int]) -> list[Any]:
    """The list with its pending items awaited together, as graphql-core awaits them."""
    awaited = await gather_with_cancel(*(results[index] for index in pending))
    for index, value in zip(pending, awaited, strict=True):
        results[index] = value
    return results


def _leaf(serialize: Callable[[Any], Any]) -> _Completer:
    def leaf(value: Any, run: _Run) -> Any:
        result = serialize(value)
        if result is None or result is Undefined:
            raise Fallback
        return result

    return _Completer(leaf, False)
