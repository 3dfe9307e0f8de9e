"""The language: builds the GraphQL schema from the types, roots and extensions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import strawberry
from graphql import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.errors import InvalidInputError, NotFoundError, TooLargeError, UnsupportedMediaTypeError
from schema.limits import HideSuggestions, MaxErrors, should_mask
from schema.mutation import PoolMutation
from schema.query import PoolQuery

# Each capability contributes its own root fields; the roots are their union.
Query = merge_types("Query", (PoolQuery,))
Mutation = merge_types("Mutation", (PoolMutation,))
Query.__strawberry_definition__.description = "Read the caller's data in the active space."  # type: ignore[attr-defined]
Mutation.__strawberry_definition__.description = "Change the caller's data in the active space."  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SchemaOptions:
    introspection: bool = True
    suggestions: bool = True
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_errors: int = 5


def build_schema(options: SchemaOptions | None = None) -> strawberry.Schema:
    options = options or SchemaOptions()
    # Factories, not instances: each request gets fresh extension objects.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=options.max_tokens),
        partial(ParserCache, maxsize=512),
        partial(QueryDepthLimiter, max_depth=options.max_depth),
        partial(MaxAliasesLimiter, max_alias_count=options.max_aliases),
        partial(ValidationCache, maxsize=512),
        partial(MaskErrors, should_mask_error=should_mask, error_message="Internal server error."),
        partial(MaxErrors, options.max_errors),
    ]
    if not options.introspection:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    if not options.suggestions:
        extensions.append(HideSuggestions)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[NotFoundError, InvalidInputError, TooLargeError, UnsupportedMediaTypeError],
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=not options.suggestions),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
