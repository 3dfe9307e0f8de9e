"""Strawberry's internals, touched here and nowhere else (the transport's are fenced in
`api.views.graphql_transport`).

The schema's graphql-core schema (`Schema._schema`), whether an extension wraps every
resolver (`SchemaExtension._implements_resolve`), the `Info` a resolver receives (built
from its private fields), the default-resolver mark, and names that live in Strawberry's
modules without being exported: validation with given rules, the graphql-core execution
context it subclasses, its awaitable check. `WRITTEN_FOR` names the versions read;
`tests/test_library_fences.py` fails when the installed one is another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLSchema
from strawberry import Schema
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document
from strawberry.types import Info

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"strawberry-graphql": "0.341."}

__all__ = [
    "WRITTEN_FOR",
    "StrawberryGraphQLCoreExecutionContext",
    "graphql_schema",
    "is_plain_attribute",
    "optimized_is_awaitable",
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
