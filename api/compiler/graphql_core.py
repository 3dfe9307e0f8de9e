"""graphql-core's internals the compiler uses, touched here and nowhere else.

Field collection (`graphql.execution.collect_fields`: `collect_fields`,
`collect_subfields`, `FieldDetails`, `GroupedFieldSet`) is not exported by graphql-core;
the resolve info, argument values and concurrent gathering are read the way its
`Executor` reads them (`build_resolve_info`, `variable_values`, `hide_suggestions`,
`pyutils.gather_with_cancel`). `WRITTEN_FOR` names the versions read;
`tests/test_library_fences.py` fails when the installed one is another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    get_argument_values,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import (
    FieldDetails,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.pyutils import Path, gather_with_cancel, is_iterable

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"graphql-core": "3.3."}

__all__ = [
    "WRITTEN_FOR",
    "Executor",
    "FieldDetails",
    "Selected",
    "argument_values",
    "gather_with_cancel",
    "is_iterable",
    "resolve_info",
    "root_fields",
    "subfields",
]


def resolve_info(
    executor: Executor[Any],
    definition: GraphQLField,
    nodes: list[FieldNode],
    parent_type: GraphQLObjectType,
    key: str,
) -> Any:
    """The resolve info graphql-core gives a root-level selection `key` of `parent_type`
    (the path the plans give every field: they do not track list positions)."""
    path = Path(None, key, parent_type.name)
    return executor.build_resolve_info(definition, nodes, parent_type, path)


def argument_values(
    executor: Executor[Any], definition: GraphQLField, selected: Selected
) -> dict[str, Any]:
    """A field's arguments, coerced as graphql-core's executor coerces them."""
    details = selected.details[0]
    return get_argument_values(
        definition,
        details.node,
        executor.variable_values,
        details.fragment_variable_values,
        executor.hide_suggestions,
    )


@dataclass(frozen=True)
class Selected:
    """One response key of a selection set: its field nodes, and the details graphql-core
    collected for them (handed back to `subfields` and `argument_values` as they are)."""

    key: str
    nodes: list[FieldNode]
    details: list[FieldDetails]


def root_fields(schema: GraphQLSchema, executor: Executor[Any]) -> list[Selected] | None:
    """The root selection of the executor's operation under its variables, or None when
    it holds what graphql-core runs differently (`@defer`, fragment variables)."""
    assert schema.query_type is not None
    collected = collect_fields(
        schema,
        executor.fragments,
        executor.variable_values,
        schema.query_type,
        executor.operation,
    )
    if collected.new_defer_usages or collected.forbidden_directive_instances:
        return None
    return _selected(collected.grouped_field_set)


def subfields(
    schema: GraphQLSchema,
    executor: Executor[Any],
    type_: GraphQLObjectType,
    details: list[FieldDetails],
) -> list[Selected] | None:
    """The selection below the fields of `details` on `type_`, or None as `root_fields`."""
    collected = collect_subfields(
        schema,
        executor.fragments,
        executor.variable_values,
        executor.operation,
        type_,
        details,
    )
    if collected.new_defer_usages or collected.forbidden_directive_instances:
        return None
    return _selected(collected.grouped_field_set)


def _selected(grouped: GroupedFieldSet) -> list[Selected] | None:
    selected = []
    for key, details in grouped.items():
        if any(d.defer_usage is not None or d.fragment_variable_values for d in details):
            return None
        selected.append(Selected(key, [d.node for d in details], list(details)))
    return selected
