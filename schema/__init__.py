"""The language: `build_schema` assembles the GraphQL schema from the capability packages
(pool, events, generation) and the shared modules (errors, enums, scalars, context, limits).

Importing `schema` stays light: the token check reaches `schema.tokens` through it from the
command line, so the types, roots and extensions load only when a schema is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import strawberry
    from strawberry.extensions import SchemaExtension


@dataclass(frozen=True)
class SchemaOptions:
    introspection: bool = True
    suggestions: bool = True
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_errors: int = 5
    max_cost: int = 5000
    # Extensions of the door (e.g. trusted documents), run after validation's own.
    extensions: tuple[Callable[[], SchemaExtension], ...] = ()
    # Extensions of the door that serves the schema (metrics, traces), added last.
    outer_extensions: tuple[Callable[[], SchemaExtension], ...] = ()


def build_schema(options: SchemaOptions | None = None) -> strawberry.Schema:
    from schema.build import build

    return build(options or SchemaOptions())


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
