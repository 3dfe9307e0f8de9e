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

A mutation plan (`MutationPlan`, one root field) completes its resolver's result the same
way, but it may fall back only before calling the resolver: after that, it raises `Replay`
with what the resolver gave, for graphql-core to answer from (`api.compiler.mutations`).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    ListValueNode,
    ObjectValueNode,
    OperationType,
    Undefined,
    ValueNode,
    VariableNode,
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
from api.compiler.mutations import Outcome, Replay, replays
from resolvers.cache_budget import BudgetedCache
from schema.strawberry_compat import (
    TYPE_CAST_ATTRIBUTE,
    converted_arguments,
    enum_class,
    has_exception_handlers,
    is_plain_attribute,
    object_class,
    optimized_is_awaitable,
    resolver_info,
    serializes_by_isoformat,
)


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
    # A value of exactly this class completes to itself (a `str` of a String): a list
    # takes such items as they are.
    exact: type | None = None


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
    direct: _Direct | None
    # Strawberry marks plain attribute fields: they need neither info nor arguments.
    basic: bool
    takes_args: bool
    completer: _Completer
    # A scalar or enum field is serialised in place, without a completer call.
    serialize: Callable[[Any], Any] | None
    non_null: bool


@dataclass(frozen=True)
class _Direct:
    """A resolver function and how Strawberry passes it the source, its `Info` and its
    (converted, constant) arguments."""

    function: Callable[..., Any]
    takes_self: bool
    source_names: tuple[str, ...]
    info_name: str | None
    arguments: dict[str, Any]
    # An async resolver (or one Strawberry treats as such) answers an awaitable.
    may_await: bool

    def call_arguments(self, arguments: str) -> str:
        """The arguments of the call in generated source (`source` and `info` there;
        `arguments` names the dict of the converted ones)."""
        given = ["source"] if self.takes_self else []
        given += [f"{name}=source" for name in self.source_names]
        if self.info_name is not None:
            given.append(f"{self.info_name}=info")
        if self.arguments:
            given.append(f"**{arguments}")
        return ", ".join(given)


@dataclass(frozen=True, eq=False)
class _TypeName:
    key: str
    name: str


_Selection = _Field | _TypeName

# What an object's completion does with None or Undefined: answers null, refuses (a
# non-null position: the plan falls back), or never sees one (its caller checked).
_NULL_ANSWERED, _NULL_REFUSED, _NULL_UNSEEN = "answered", "refused", "unseen"


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


class MutationPlan:
    """A compiled mutation of one root field; `run` answers with the response's `data`."""

    def __init__(self, field: _Field, slots: int) -> None:
        self._field = field
        self._complete: Completion = field.completer.complete
        self._slots = slots

    async def run(self, executor: Executor[Any]) -> dict[str, Any]:
        field = self._field
        run = _Run(executor, self._slots)
        try:
            info = field.site.info(run)
            arguments = field.site.arguments(run) if field.takes_args else {}
        except Exception as exc:  # nothing has run yet: graphql-core says why
            raise Fallback from exc
        try:
            value = field.resolve(executor.root_value, info, **arguments)
            if optimized_is_awaitable(value):
                value = await value
        except Exception as exc:
            raise Replay(Outcome(error=exc)) from None
        if isinstance(value, Exception):  # graphql-core raises a returned error
            raise Replay(Outcome(value=value))
        try:
            return {field.key: await _settled(self._complete(value, run))}
        except Exception:
            raise Replay(Outcome(value=value)) from None


class _Unsupported(Exception):
    """The document uses something the compiler leaves to graphql-core."""


def compile_plan(
    schema: GraphQLSchema, executor: Executor[Any], dates: BudgetedCache[Any, Any] | None = None
) -> Plan | None:
    """The plan of the executor's operation under its variables' `@skip`/`@include`
    values, or None when graphql-core should run it. `dates`: where the text of UTC
    datetimes is remembered (`isoformat` costs more than looking it up)."""
    operation = executor.operation
    if operation.operation is not OperationType.QUERY or schema.query_type is None:
        return None
    compiler = _Compiler(schema, executor, dates)
    try:
        selection = root_fields(schema, executor)
        if selection is None:
            return None
        root = compiler.object_fields(schema.query_type, selection)
    except (_Unsupported, GraphQLError):
        # GraphQLError: a switch that does not coerce (`@include(if: null)`); the
        # executor reports it.
        return None
    return Plan(_object_completion(root, schema.query_type.name, dates), compiler.slots)


def compile_mutation(
    schema: GraphQLSchema, executor: Executor[Any], dates: BudgetedCache[Any, Any] | None = None
) -> MutationPlan | None:
    """The plan of the executor's mutation, or None when graphql-core should run it: a
    mutation of anything but exactly one root field (graphql-core runs several one after
    the other), or a selection the plans do not cover."""
    mutation = schema.mutation_type
    if executor.operation.operation is not OperationType.MUTATION or mutation is None:
        return None
    compiler = _Compiler(schema, executor, dates)
    try:
        selection = root_fields(schema, executor, mutation)
        if selection is None or len(selection) != 1:
            return None
        (field,) = compiler.object_fields(mutation, selection)
    except (_Unsupported, GraphQLError):
        # GraphQLError: a switch that does not coerce; the executor reports it.
        return None
    if not isinstance(field, _Field) or not replays(
        mutation, field.site.selected.nodes[0].name.value
    ):
        return None
    return MutationPlan(field, compiler.slots)


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        executor: Executor[Any],
        dates: BudgetedCache[Any, Any] | None,
    ) -> None:
        self.schema = schema
        self.executor = executor
        self.dates = dates
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
                    direct=None
                    if basic
                    else _direct_call(self.schema, self.executor, definition, selected, leaf),
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
            inner = type_.of_type
            if is_object_type(inner):
                assert isinstance(inner, GraphQLObjectType)
                return self.object_completer(inner, site, _NULL_REFUSED)
            return _required(self.bare_completer(inner, site))
        if is_object_type(type_):
            assert isinstance(type_, GraphQLObjectType)
            return self.object_completer(type_, site, _NULL_ANSWERED)
        return _nullable(self.bare_completer(type_, site))

    def bare_completer(self, type_: GraphQLOutputType, site: _Site) -> _Completer:
        """The completion of a value that is neither None nor Undefined (the nullable or
        non-null wrapper around it looks at those)."""
        if is_list_type(type_):
            assert isinstance(type_, GraphQLList)
            return _list(self.completer(type_.of_type, site))
        if is_leaf_type(type_):
            return _leaf(type_)
        if is_object_type(type_):
            assert isinstance(type_, GraphQLObjectType)
            return self.object_completer(type_, site, _NULL_UNSEEN)
        if is_abstract_type(type_):
            return self.abstract_completer(type_, site)
        raise _Unsupported(f"type {type_}")

    def object_completer(self, type_: GraphQLObjectType, site: _Site, null: str) -> _Completer:
        """An object's completion, with its `is_type_of` check and, by `null`, what a None
        or Undefined value completes to (`_NULL_UNSEEN`: the caller never passes one).

        The check is Strawberry's own `is_type_of` for most types: an instance of exactly
        the type's class that carries no `strawberry.cast` mark passes it without the
        call (`object_class`)."""
        selection = subfields(self.schema, self.executor, type_, site.selected.details)
        if selection is None:
            raise _Unsupported("@defer or fragment variables")
        selections = self.object_fields(type_, selection)
        fields = _object_completion(selections, type_.name, self.dates)
        may_await = _may_await(selections)
        is_type_of = type_.is_type_of
        known = object_class(type_) if is_type_of is not None else None
        names: dict[str, Any] = {
            "Fallback": Fallback,
            "Undefined": Undefined,
            "fields": fields,
            "is_type_of": is_type_of,
            "known": known,
            "site": site,
            "cast": TYPE_CAST_ATTRIBUTE,
        }
        lines = ["def complete(value, run):"]
        if null != _NULL_UNSEEN:
            answer = "raise Fallback" if null == _NULL_REFUSED else "return None"
            lines += ["    if value is None or value is Undefined:", f"        {answer}"]
        if is_type_of is not None:
            check = "is_type_of(value, site.info(run)) is not True"
            if known is not None:
                fast = "(value.__class__ is known and getattr(value, cast, None) is None)"
                check = f"not {fast} and {check}"
            lines += [f"    if {check}:", "        raise Fallback"]
        lines.append("    return fields(value, run)")
        complete: Completion = _generated(lines, names, f"<object {type_.name}>")
        return _Completer(complete, may_await)

    def abstract_completer(self, type_: GraphQLAbstractType, site: _Site) -> _Completer:
        resolve_type = type_.resolve_type
        if resolve_type is None:
            raise _Unsupported("an abstract type without resolve_type")
        members = {
            member.name: self.object_completer(member, site, _NULL_UNSEEN).complete
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
    schema: GraphQLSchema,
    executor: Executor[Any],
    definition: GraphQLField,
    selected: Selected,
    leaf: GraphQLOutputType,
) -> _Direct | None:
    """The field's resolver function called the way Strawberry's wrapper calls it (source
    as `self` or `root`/`parent`, its `Info` as `info`, the arguments converted), for a
    resolver without field extensions whose errors no exception handler turns into a
    result, and whose arguments are written in the document as scalar or enum literals
    (or left to their defaults): those convert to the same values on every run, so they
    are converted once, here. None for any other field."""
    field = (definition.extensions or {}).get("strawberry-definition")
    strawberry_schema = (schema.extensions or {}).get("strawberry-definition")
    resolver = getattr(field, "base_resolver", None)
    if field is None or resolver is None or strawberry_schema is None:
        return None
    config = getattr(strawberry_schema, "config", None)
    if getattr(config, "info_class", None) is not StrawberryInfo or field.extensions:
        return None
    if not is_leaf_type(leaf) and has_exception_handlers(strawberry_schema, field):
        return None
    arguments: dict[str, Any] = {}
    if definition.args or selected.nodes[0].arguments:
        if not _constant_leaf_arguments(definition, selected):
            return None
        try:
            arguments = converted_arguments(
                strawberry_schema, field, argument_values(executor, definition, selected)
            )
        except Exception:  # Strawberry's wrapper runs it, and meets the error itself
            return None
        if not all(isinstance(value, _CONSTANT) for value in arguments.values()):
            return None
    source_names = tuple(p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p)
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    names = (*source_names, info_name or "info", *arguments)
    if not all(name.isidentifier() for name in names) or len(set(names)) < len(names):
        return None  # pragma: no cover - Python parameter names are identifiers
    return _Direct(
        resolver.wrapped_func,
        resolver.self_parameter is not None,
        source_names,
        info_name,
        arguments,
        # A synchronous resolver of an object or list may still answer an awaitable (a
        # DataLoader's future): graphql-core awaits it, so the plan looks.
        field.is_async or resolver.is_async or not is_leaf_type(leaf),
    )


# Argument values that stay the same however often a resolver receives them.
_CONSTANT = (str, int, float, bool, type(None), enum.Enum)


def _constant_leaf_arguments(definition: GraphQLField, selected: Selected) -> bool:
    """Whether every argument is a scalar or enum and none is given by a variable."""
    for argument in definition.args.values():
        type_ = argument.type
        if not is_leaf_type(type_.of_type if isinstance(type_, GraphQLNonNull) else type_):
            return False
    return all(
        not _reads_variables(argument.value)
        for node in selected.nodes
        for argument in node.arguments or ()
    )


def _reads_variables(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_reads_variables(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_reads_variables(field.value) for field in value.fields)
    return False


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
_PASS_THROUGH: tuple[tuple[GraphQLOutputType, type], ...] = (
    (GraphQLString, str),
    (GraphQLID, str),
    (GraphQLBoolean, bool),
)
# The bytes of one remembered datetime text, estimated: the text (32 characters, 81 bytes),
# the cache's entry and the map's slot; the datetime is the source object's own.
DATE_TEXT_BYTES = 240
# ...and an `int` within these bounds (a 32-bit GraphQL Int) is its own serialisation.
_INT_RANGE = (GRAPHQL_MIN_INT, GRAPHQL_MAX_INT)


@dataclass(frozen=True)
class _LeafShortcuts:
    """What a leaf type's values serialise to without the call to `serialize`."""

    exact: type | None = None
    int_range: tuple[int, int] | None = None
    # A Strawberry enum: its class, and each member's serialisation by member name.
    enum: type | None = None
    enum_names: dict[str, Any] | None = None
    # A date-time scalar serialised as `isoformat()`: a UTC `datetime` (what storage
    # gives) serialises to the same text for equal values, so the text is remembered.
    utc_datetime: bool = False


def _leaf_shortcuts(leaf: GraphQLOutputType) -> _LeafShortcuts:
    exact = next((c for t, c in _PASS_THROUGH if t is leaf), None)
    if exact is not None:
        return _LeafShortcuts(exact=exact)
    if isinstance(leaf, GraphQLScalarType) and serializes_by_isoformat(leaf.serialize):
        return _LeafShortcuts(utc_datetime=True)
    if leaf is GraphQLInt:
        return _LeafShortcuts(int_range=_INT_RANGE)
    if isinstance(leaf, GraphQLEnumType):
        enum = enum_class(leaf)
        if enum is None:
            return _LeafShortcuts()
        names: dict[str, Any] = {}
        for member in cast("Iterable[Any]", enum):
            try:  # what `serialize` answers for a member depends on the member alone
                names[member._name_] = leaf.serialize(member)
            except Exception:  # that member keeps the call
                continue
        return _LeafShortcuts(enum=enum, enum_names=names)
    return _LeafShortcuts()


def _generated(lines: list[str], names: dict[str, Any], filename: str) -> Any:
    """The function `complete` that `lines` define, with `names` as its globals;
    `filename` names it in tracebacks and profiles."""
    # The source is built from names and reprs only.
    exec(compile("\n".join(lines), filename, "exec"), names)
    return names["complete"]


def _may_await(selections: Sequence[_Selection]) -> bool:
    """Whether an object's completion can answer an awaitable: only when a field's
    resolver may return one (one Strawberry does not mark as an attribute and the plan
    does not call directly) or its value's completion may."""
    for step in selections:
        if isinstance(step, _TypeName):
            continue
        if not (step.basic or step.direct is not None) or (step.direct and step.direct.may_await):
            return True
        if step.serialize is None and step.completer.may_await:
            return True
    return False


def _object_completion(
    selections: Sequence[_Selection],
    type_name: str = "Query",
    dates: BudgetedCache[Any, Any] | None = None,
) -> Completion:
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
    if dates is not None:
        names["dates"] = dates
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
    complete: Completion = _generated(lines, names, f"<fields of {type_name}>")
    return complete


def _field_lines(i: int, step: _Field, names: dict[str, Any]) -> list[str]:
    """The statements that resolve one field and put its value (or, when async, the
    awaitable of it, noted in `pending`) under its key in `out`."""
    names[f"finish{i}"] = _finish(step)
    lines, pad = _value_lines(i, step, names)
    if step.serialize is None:
        return lines + _object_lines(i, step, names, pad)
    return lines + _leaf_lines(i, step, names, pad)


def _value_lines(i: int, step: _Field, names: dict[str, Any]) -> tuple[list[str], str]:
    """The statements that put the field's resolved value in `value` (or an awaitable of
    it under its key), and the indentation the statements completing `value` take."""
    key, pad = repr(step.key), " " * 8
    direct = step.direct
    if step.attribute is not None and step.attribute.isidentifier():
        return [f"{pad}value = source.{step.attribute}"], pad
    if step.basic:
        return [f"{pad}value = resolve{i}(source, None)"], pad
    if direct is not None:
        names[f"direct{i}"] = direct.function
        lines = []
        if direct.info_name is not None:  # the run's `Info` of this field, made once
            lines += [
                f"{pad}info = run.strawberry_infos[{step.site.slot}]",
                f"{pad}if info is None:",
                f"{pad}    info = site{i}.strawberry_info(run)",
            ]
        names[f"arguments{i}"] = direct.arguments
        call = f"direct{i}({direct.call_arguments(f'arguments{i}')})"
        if not direct.may_await:
            return [*lines, f"{pad}value = {call}"], pad
        lines.append(f"{pad}value = {call}")
    else:
        args = f"**site{i}.arguments(run)" if step.takes_args else ""
        lines = [f"{pad}value = resolve{i}(source, site{i}.info(run), {args})"]
    lines += [
        f"{pad}if is_awaitable(value):",
        f"{pad}    out[{key}] = finish{i}(value, run)",
        f"{pad}    pending.append({key})",
        f"{pad}else:",
    ]
    return lines, pad + "    "


def _object_lines(i: int, step: _Field, names: dict[str, Any], pad: str) -> list[str]:
    """The statements completing an object (or list) `value` under the field's key."""
    key = repr(step.key)
    names[f"complete{i}"] = step.completer.complete
    lines = [
        f"{pad}if isinstance(value, Exception):",
        f"{pad}    raise Fallback",
        f"{pad}out[{key}] = complete{i}(value, run)",
    ]
    if step.completer.may_await:
        lines += [f"{pad}if is_awaitable(out[{key}]):", f"{pad}    pending.append({key})"]
    return lines


def _leaf_lines(i: int, step: _Field, names: dict[str, Any], pad: str) -> list[str]:
    """The statements serializing a leaf `value` under the field's key: the exact classes
    a shortcut names as they are, anything else through the type's `serialize`."""
    key = repr(step.key)
    names[f"serialize{i}"] = step.serialize
    leaf = step.site.definition.type
    leaf = leaf.of_type if isinstance(leaf, GraphQLNonNull) else leaf
    shortcuts = _leaf_shortcuts(leaf)
    # A value of the exact class a shortcut names is never an Exception: those come first.
    if shortcuts.exact is not None:
        lines = [
            f"{pad}if value.__class__ is {shortcuts.exact.__name__}:",
            f"{pad}    out[{key}] = value",
        ]
    elif shortcuts.int_range is not None:
        low, high = shortcuts.int_range
        lines = [
            f"{pad}if value.__class__ is int and {low} <= value <= {high}:",
            f"{pad}    out[{key}] = value",
        ]
    elif shortcuts.enum is not None:
        names[f"enum{i}"], names[f"enum_names{i}"] = shortcuts.enum, shortcuts.enum_names
        lines = [
            f"{pad}if value.__class__ is enum{i} and value._name_ in enum_names{i}:",
            f"{pad}    out[{key}] = enum_names{i}[value._name_]",
        ]
    elif shortcuts.utc_datetime and "dates" in names:
        # Equal UTC datetimes have the same text (a fixed offset has no fold to show).
        names["datetime"], names["UTC"] = datetime, UTC
        lines = [
            f"{pad}if value.__class__ is datetime and value.tzinfo is UTC:",
            f"{pad}    result = dates.peek(value)",
            f"{pad}    if result is None:",
            f"{pad}        result = serialize{i}(value)",
            f"{pad}        dates.put(value, result, {DATE_TEXT_BYTES})",
            f"{pad}    out[{key}] = result",
        ]
    else:
        lines = [f"{pad}if False:", f"{pad}    pass"]
    null = "raise Fallback" if step.non_null else f"out[{key}] = None"
    return [
        *lines,
        f"{pad}elif isinstance(value, Exception):",
        f"{pad}    raise Fallback",
        f"{pad}elif value is None or value is Undefined:",
        f"{pad}    {null}",
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


def _required(inner: _Completer) -> _Completer:
    """A non-null value's completion. The completion inside never answers None for a
    value that is not None (a leaf refuses a null serialisation, lists and objects answer
    lists and objects), so only the value itself needs the check."""
    complete = inner.complete

    def required(value: Any, run: _Run) -> Any:
        if value is None or value is Undefined:
            raise Fallback
        return complete(value, run)

    return _Completer(required, inner.may_await, inner.exact)


def _nullable(inner: _Completer) -> _Completer:
    complete = inner.complete

    def nullable(value: Any, run: _Run) -> Any:
        if value is None or value is Undefined:
            return None
        return complete(value, run)

    return _Completer(nullable, inner.may_await, inner.exact)


def _list(item: _Completer) -> _Completer:
    complete, exact = item.complete, item.exact
    if not item.may_await:
        if exact is not None:

            def list_of_exact(value: Any, run: _Run) -> Any:
                if value.__class__ is not list and not is_iterable(value):
                    raise Fallback
                return [e if e.__class__ is exact else complete(e, run) for e in value]

            return _Completer(list_of_exact, False)

        def list_(value: Any, run: _Run) -> Any:
            if value.__class__ is not list and not is_iterable(value):
                raise Fallback
            return [complete(entry, run) for entry in value]

        return _Completer(list_, False)

    def list_items(value: Any, run: _Run) -> Any:
        if value.__class__ is not list and not is_iterable(value):
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


def _leaf(type_: GraphQLOutputType) -> _Completer:
    serialize = cast("Callable[[Any], Any]", getattr(type_, "serialize"))  # noqa: B009

    def leaf(value: Any, run: _Run) -> Any:
        result = serialize(value)
        if result is None or result is Undefined:
            raise Fallback
        return result

    return _Completer(leaf, False, _leaf_shortcuts(type_).exact)
