"""Strawberry's internals, touched here and nowhere else (the transport's are fenced in
`api.views.graphql_transport`).

The schema's graphql-core schema (`Schema._schema`), whether an extension wraps every
resolver (`SchemaExtension._implements_resolve`), the `Info` a resolver receives (built
from its private fields), the default-resolver mark, and names that live in Strawberry's
modules without being exported: validation with given rules, the graphql-core execution
context it subclasses (and the memos graphql-core's executor keeps), its awaitable check.
`WRITTEN_FOR` names the versions read;
`tests/test_library_fences.py` fails when the installed one is another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLEnumType, GraphQLObjectType, GraphQLSchema
from graphql.pyutils import RefMap
from strawberry import Schema
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document
from strawberry.schema.schema_converter import CustomGraphQLEnumType
from strawberry.types import Info
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"strawberry-graphql": "0.341.", "graphql-core": "3.3."}

__all__ = [
    "TYPE_CAST_ATTRIBUTE",
    "WRITTEN_FOR",
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
