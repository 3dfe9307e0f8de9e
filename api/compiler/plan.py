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

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    FieldNode,
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
from graphql.execution import Executor
from graphql.execution.collect_fields import (
    FieldDetails,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, is_iterable
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.types import Info as StrawberryInfo


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


# A completion turns a resolved value into its JSON form; `is_async` says whether it
# returns an awaitable (only objects do: their fields' resolvers may be async).
Completion = Callable[[Any, _Run], Any]


@dataclass(frozen=True)
class _Completer:
    complete: Completion
    is_async: bool


@dataclass(frozen=True, eq=False)
class _Site:
    """Where a field is selected: what its resolve info and arguments are made of."""

    key: str
    slot: int
    parent_type: GraphQLObjectType
    definition: GraphQLField
    nodes: list[FieldNode]
    details: FieldDetails

    def info(self, run: _Run) -> Any:
        info = run.infos[self.slot]
        if info is None:
            path = Path(None, self.key, self.parent_type.name)
            info = run.executor.build_resolve_info(
                self.definition, self.nodes, self.parent_type, path
            )
            run.infos[self.slot] = info
        return info

    def strawberry_info(self, run: _Run) -> Any:
        """The `Info` a Strawberry resolver receives, made once per run like `info`."""
        info = run.strawberry_infos[self.slot]
        if info is None:
            field = self.definition.extensions["strawberry-definition"]
            info = StrawberryInfo(_raw_info=self.info(run), _field=field)
            run.strawberry_infos[self.slot] = info
        return info

    def arguments(self, run: _Run) -> dict[str, Any]:
        args = run.args[self.slot]
        if args is None:
            args = get_argument_values(
                self.definition,
                self.details.node,
                run.executor.variable_values,
                self.details.fragment_variable_values,
                run.executor.hide_suggestions,
            )
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

    def __init__(self, root: Callable[[Any, _Run], Awaitable[dict[str, Any]]], slots: int):
        self._root = root
        self._slots = slots

    async def run(self, executor: Executor[Any]) -> dict[str, Any]:
        try:
            return await self._root(executor.root_value, _Run(executor, self._slots))
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
        collected = collect_fields(
            schema, executor.fragments, executor.variable_values, schema.query_type, operation
        )
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        root = compiler.object_fields(schema.query_type, collected.grouped_field_set)
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
        self, parent: GraphQLObjectType, grouped: GroupedFieldSet
    ) -> list[_Selection]:
        selections: list[_Selection] = []
        for key, details in grouped.items():
            if any(d.defer_usage is not None or d.fragment_variable_values for d in details):
                raise _Unsupported("@defer or fragment variables")
            name = details[0].node.name.value
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
            details_list = list(details)
            site = _Site(
                key=key,
                slot=self.slots,
                parent_type=parent,
                definition=definition,
                nodes=[d.node for d in details_list],
                details=details_list[0],
            )
            self.slots += 1
            basic = bool(getattr(resolve, "_is_default", False))
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
                    takes_args=bool(definition.args or site.details.node.arguments),
                    completer=self.completer(definition.type, details_list, site),
                    serialize=leaf.serialize if is_leaf_type(leaf) else None,
                    non_null=is_non_null_type(definition.type),
                )
            )
        return selections

    def completer(
        self, type_: GraphQLOutputType, details: list[FieldDetails], site: _Site
    ) -> _Completer:
        if is_non_null_type(type_):
            assert isinstance(type_, GraphQLNonNull)
            return _non_null(self.completer(type_.of_type, details, site))
        if is_list_type(type_):
            assert isinstance(type_, GraphQLList)
            return _nullable(_list(self.completer(type_.of_type, details, site)))
        if is_leaf_type(type_):
            return _nullable(_leaf(type_.serialize))
        if is_object_type(type_):
            assert isinstance(type_, GraphQLObjectType)
            return _nullable(self.object_completer(type_, details, site))
        if is_abstract_type(type_):
            return _nullable(self.abstract_completer(type_, details, site))
        raise _Unsupported(f"type {type_}")

    def object_completer(
        self, type_: GraphQLObjectType, details: list[FieldDetails], site: _Site
    ) -> _Completer:
        collected = collect_subfields(
            self.schema,
            self.executor.fragments,
            self.executor.variable_values,
            self.executor.operation,
            type_,
            details,
        )
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise _Unsupported("@defer")
        fields = _object_completion(self.object_fields(type_, collected.grouped_field_set))
        is_type_of = type_.is_type_of
        if is_type_of is None:
            return _Completer(fields, True)

        async def checked(value: Any, run: _Run) -> Any:
            if is_type_of(value, site.info(run)) is not True:
                raise Fallback
            return await fields(value, run)

        return _Completer(checked, True)

    def abstract_completer(
        self, type_: GraphQLAbstractType, details: list[FieldDetails], site: _Site
    ) -> _Completer:
        resolve_type = type_.resolve_type
        if resolve_type is None:
            raise _Unsupported("an abstract type without resolve_type")
        members = {
            member.name: self.object_completer(member, details, site).complete
            for member in self.schema.get_possible_types(type_)
        }

        async def complete(value: Any, run: _Run) -> Any:
            name = resolve_type(value, site.info(run), type_)
            if optimized_is_awaitable(name):
                name = await cast("Awaitable[str | None]", name)
            member = members.get(name) if isinstance(name, str) else None
            if member is None:
                raise Fallback
            return await member(value, run)

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


def _object_completion(
    selections: Sequence[_Selection],
) -> Callable[[Any, _Run], Awaitable[dict[str, Any]]]:
    """The function that completes one object of a selection set, generated as Python
    source with one straight run of statements per selected field (no per-field loop
    or dispatch), the way graphql-jit generates JavaScript."""
    names: dict[str, Any] = {
        "Fallback": Fallback,
        "Undefined": Undefined,
        "is_awaitable": optimized_is_awaitable,
    }
    lines = ["async def complete(source, run):", "    out = {}"]
    for i, step in enumerate(selections):
        key = repr(step.key)
        if isinstance(step, _TypeName):
            lines.append(f"    out[{key}] = {step.name!r}")
            continue
        names[f"site{i}"], names[f"resolve{i}"] = step.site, step.resolve
        if step.attribute is not None and step.attribute.isidentifier():
            lines.append(f"    value = source.{step.attribute}")
        elif step.basic:
            lines.append(f"    value = resolve{i}(source, None)")
        elif step.direct is not None:
            names[f"direct{i}"] = step.direct
            lines.append(f"    value = direct{i}(source, site{i}.strawberry_info(run))")
        else:
            args = f"**site{i}.arguments(run)" if step.takes_args else ""
            lines.append(f"    value = resolve{i}(source, site{i}.info(run), {args})")
            lines.append("    if is_awaitable(value):")
            lines.append("        value = await value")
        lines.append("    if isinstance(value, Exception):")
        lines.append("        raise Fallback")
        if step.serialize is not None:
            names[f"serialize{i}"] = step.serialize
            leaf = step.site.definition.type
            leaf = leaf.of_type if isinstance(leaf, GraphQLNonNull) else leaf
            null = "raise Fallback" if step.non_null else f"out[{key}] = None"
            lines.append("    if value is None or value is Undefined:")
            lines.append(f"        {null}")
            exact = next((c for t, c in _PASS_THROUGH if t is leaf), None)
            if exact is not None:
                lines.append(f"    elif value.__class__ is {exact}:")
                lines.append(f"        out[{key}] = value")
            lines.append("    else:")
            lines.append(f"        result = serialize{i}(value)")
            lines.append("        if result is None or result is Undefined:")
            lines.append("            raise Fallback")
            lines.append(f"        out[{key}] = result")
            continue
        names[f"complete{i}"] = step.completer.complete
        awaited = "await " if step.completer.is_async else ""
        lines.append(f"    out[{key}] = {awaited}complete{i}(value, run)")
    lines.append("    return out")
    exec("\n".join(lines), names)  # the source is built above from names and reprs only
    complete: Callable[[Any, _Run], Awaitable[dict[str, Any]]] = names["complete"]
    return complete


def _non_null(inner: _Completer) -> _Completer:
    complete = inner.complete
    if inner.is_async:

        async def non_null_async(value: Any, run: _Run) -> Any:
            result = await complete(value, run)
            if result is None:
                raise Fallback
            return result

        return _Completer(non_null_async, True)

    def non_null(value: Any, run: _Run) -> Any:
        result = complete(value, run)
        if result is None:
            raise Fallback
        return result

    return _Completer(non_null, False)


def _nullable(inner: _Completer) -> _Completer:
    complete = inner.complete
    if inner.is_async:

        async def nullable_async(value: Any, run: _Run) -> Any:
            if value is None or value is Undefined:
                return None
            return await complete(value, run)

        return _Completer(nullable_async, True)

    def nullable(value: Any, run: _Run) -> Any:
        if value is None or value is Undefined:
            return None
        return complete(value, run)

    return _Completer(nullable, False)


def _list(item: _Completer) -> _Completer:
    complete = item.complete
    if item.is_async:

        async def list_async(value: Any, run: _Run) -> Any:
            if not is_iterable(value):
                raise Fallback
            return [await complete(entry, run) for entry in value]

        return _Completer(list_async, True)

    def list_(value: Any, run: _Run) -> Any:
        if not is_iterable(value):
            raise Fallback
        return [complete(entry, run) for entry in value]

    return _Completer(list_, False)


def _leaf(serialize: Callable[[Any], Any]) -> _Completer:
    def leaf(value: Any, run: _Run) -> Any:
        result = serialize(value)
        if result is None or result is Undefined:
            raise Fallback
        return result

    return _Completer(leaf, False)
