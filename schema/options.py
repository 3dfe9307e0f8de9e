"""What a schema is built with: the limits and the door's extensions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from strawberry.extensions import SchemaExtension

    from resolvers.cache_budget import CacheBudget


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
    # Extensions of the door that serves the schema (metrics, traces): listed first, so
    # their hooks are left last and see the final errors.
    outer_extensions: tuple[Callable[[], SchemaExtension], ...] = ()
    # The byte budget its caches (parsed documents) draw on; None: a budget of their own.
    cache_budget: CacheBudget | None = None
