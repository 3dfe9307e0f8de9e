"""The language: `build_schema` assembles the GraphQL schema from the capability packages
(pool, events, generation) and the shared modules (errors, enums, scalars, context, limits).

Importing `schema` stays light: the token check reaches `schema.tokens` through it from the
command line, so the types, roots and extensions load only when a schema is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schema.options import SchemaOptions

if TYPE_CHECKING:
    import strawberry

__all__ = ["SchemaOptions", "build_schema", "export_sdl"]


def build_schema(options: SchemaOptions | None = None) -> strawberry.Schema:
    from schema.build import build

    return build(options or SchemaOptions())


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
