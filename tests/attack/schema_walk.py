"""Walking the introspected schema: which root fields take ids, what to pass, what to select.

Everything here is derived from the schema the server publishes, so fields added later
(new id arguments, new input objects, new result unions) are covered without edits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_non_null_type,
)
from graphql.pyutils import Undefined

from tests.attack.target import Target

# Nested selections stop here; deep enough to reach a result's own objects (usage, images).
SELECTION_DEPTH = 3
# Input objects nest; a self-referencing one must not send the walk round forever.
INPUT_DEPTH = 5


def introspect(target: Target, user: str) -> GraphQLSchema:
    data = target.gql(user, get_introspection_query(descriptions=False))
    return build_client_schema(data)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RootField:
    root: str  # "query" or "mutation"
    name: str
    field: GraphQLField

    @property
    def label(self) -> str:
        return f"{self.root}.{self.name}"


def root_fields(schema: GraphQLSchema) -> list[RootField]:
    found = []
    for root, type_ in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        if type_ is not None:
            found += [RootField(root, name, field) for name, field in type_.fields.items()]
    return found


def has_default(value: GraphQLArgument | GraphQLInputField) -> bool:
    """Whether the schema declares a default (graphql-core 3.3 keeps it in `default`)."""
    return value.default is not None or value.default_value is not Undefined


def takes_id(type_: GraphQLInputType, depth: int = 0) -> bool:
    """Whether an argument of this type holds an `ID` anywhere (directly, in a list, in an input)."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLScalarType):
        return named.name == "ID"
    if isinstance(named, GraphQLInputObjectType) and depth < INPUT_DEPTH:
        return any(takes_id(f.type, depth + 1) for f in named.fields.values())
    return False


def id_taking_fields(schema: GraphQLSchema) -> list[RootField]:
    return [f for f in root_fields(schema) if any(takes_id(a.type) for a in f.field.args.values())]


# Arguments ------------------------------------------------------------------------


def value_for(type_: GraphQLInputType, candidate: str, depth: int = 0) -> Any:
    """A valid value for an input type, with `candidate` in every ID slot."""
    if isinstance(type_, GraphQLNonNull):
        return value_for(type_.of_type, candidate, depth)
    if isinstance(type_, GraphQLList):
        return [value_for(type_.of_type, candidate, depth)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        # Defaults are valid by definition; every other field (nullable too) gets a value,
        # so an update really tries to change the foreign object.
        return {
            name: value_for(field.type, candidate, depth + 1)
            for name, field in type_.fields.items()
            if (not has_default(field) or takes_id(field.type))
            and (depth < INPUT_DEPTH or is_non_null_type(field.type))
        }
    assert isinstance(type_, GraphQLScalarType), type_
    # A scalar added later gets a string: if that is invalid, the sweep says so loudly.
    return SCALAR_VALUES.get(type_.name, lambda _: "sweep")(candidate)


SCALAR_VALUES: dict[str, Any] = {
    "ID": lambda candidate: candidate,
    "String": lambda _: "sweep",
    "Int": lambda _: 1,
    "Float": lambda _: 1.0,
    "Boolean": lambda _: True,
    "DateTime": lambda _: "2030-01-01T00:00:00+00:00",
    "Upload": lambda _: None,  # filled by a multipart file part
}


@dataclass
class Call:
    """One request for one root field: a document with variables, and the files it needs."""

    document: str
    variables: dict[str, Any]
    uploads: list[str]  # variable names of Upload arguments


def build_call(schema: GraphQLSchema, field: RootField, candidate: str) -> Call:
    definitions, arguments, variables, uploads = [], [], {}, []
    for i, (name, arg) in enumerate(field.field.args.items()):
        if not takes_id(arg.type) and has_default(arg):
            continue  # the default is a valid value
        variable = f"a{i}"
        definitions.append(f"${variable}: {arg.type}")
        arguments.append(f"{name}: ${variable}")
        if get_named_type(arg.type).name == "Upload":
            uploads.append(variable)
        variables[variable] = value_for(arg.type, candidate)
    head = f"{field.root}({', '.join(definitions)})" if definitions else field.root
    args = f"({', '.join(arguments)})" if arguments else ""
    body = f"{head} {{ {field.name}{args} {selection(field.field.type)} }}"
    return Call(body, variables, uploads)


# Selections -----------------------------------------------------------------------


def selection(type_: GraphQLOutputType, depth: int = 0) -> str:
    """`__typename`, every argument-free scalar field, and objects below, for any output type."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    if depth >= SELECTION_DEPTH:
        return "{ __typename }"
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        return "{ __typename " + _fields(named, depth) + " }"
    assert isinstance(named, GraphQLUnionType), named
    # Members may share a field name with different types; those must not be merged.
    seen: dict[str, str] = {}
    parts = [f"... on {member.name} {{ {_fields(member, depth, seen)} }}" for member in named.types]
    return "{ __typename " + " ".join(parts) + " }"


def _fields(
    type_: GraphQLObjectType | GraphQLInterfaceType, depth: int, seen: dict[str, str] | None = None
) -> str:
    chosen = []
    for name, field in type_.fields.items():
        if field.args:
            continue  # e.g. transformUrl(width, height): its answer depends on what we pass
        sub = selection(field.type, depth + 1)
        shape = f"{field.type} {sub}"
        if seen is not None and seen.setdefault(name, shape) != shape:
            chosen.append(f"{type_.name}_{name}: {name} {sub}".strip())  # see ids_in
        else:
            chosen.append(f"{name} {sub}".strip())
    return " ".join(chosen) or "__typename"


# Reading answers ------------------------------------------------------------------


def ids_in(schema: GraphQLSchema, type_: GraphQLOutputType, value: Any) -> set[str]:
    """Every ID-typed value in an answer, found by following the schema (not by guessing)."""
    if value is None:
        return set()
    if isinstance(value, list):
        return set().union(*(ids_in(schema, type_, item) for item in value))
    named: GraphQLNamedType = get_named_type(type_)
    if isinstance(named, GraphQLScalarType):
        return {str(value)} if named.name == "ID" else set()
    if not isinstance(value, dict):
        return set()
    concrete = schema.get_type(value.get("__typename", named.name))
    if not isinstance(concrete, GraphQLObjectType | GraphQLInterfaceType):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        name = key.removeprefix(f"{concrete.name}_")  # an alias made by _fields
        if name in concrete.fields:
            found |= ids_in(schema, concrete.fields[name].type, item)
    return found
