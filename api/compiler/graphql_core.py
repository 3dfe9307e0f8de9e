"""graphql-core's internals the compiler uses, touched here and nowhere else.

Field collection (`graphql.execution.collect_fields`: `collect_fields`,
`collect_subfields`, `FieldDetails`, `GroupedFieldSet`) is not exported by graphql-core;
the resolve info, argument values and concurrent gathering are read the way its
`Executor` reads them (`build_resolve_info`, `variable_values`, `hide_suggestions`,
`pyutils.gather_with_cancel`). An executor is forked for another request the way its
`build_per_event_executor` and `create_sub_executor` copy one, from the attributes its
`__init__` sets (`_SHARED`, `_PER_EXECUTION`). `WRITTEN_FOR` names the versions read;
`tests/test_library_fences.py` fails when the installed one is another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
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
from graphql.execution.executor import CollectedErrors
from graphql.execution.values import VariableValues, get_variable_values
from graphql.pyutils import Path, RefMap, gather_with_cancel, is_iterable
from graphql.type.definition import GraphQLResolveInfoHelpers

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"graphql-core": "3.3."}

__all__ = [
    "WRITTEN_FOR",
    "Executor",
    "FieldDetails",
    "Selected",
    "VariableValues",
    "argument_values",
    "coerced_variables",
    "forkable",
    "forked",
    "gather_with_cancel",
    "is_iterable",
    "resolve_info",
    "root_fields",
    "subfields",
]


# What an executor of one operation keeps for any request: set by `__init__` from what
# `build` found in the document, and shared with the executors graphql-core copies.
_SHARED = frozenset(
    {
        "schema",
        "fragment_definitions",
        "fragments",
        "root_value",
        "operation",
        "field_resolver",
        "type_resolver",
        "subscribe_field_resolver",
        "enable_early_execution",
        "hide_suggestions",
        "abort_signal",
        "hooks",
        "middleware_manager",
        "error_propagation",
        "is_awaitable",
        "is_async_iterable",
        "operation_extensions",  # Strawberry's execution context
    }
)
# ...and what one execution has of its own: each set anew by `forked`.
_PER_EXECUTION = frozenset(
    {
        "context_value",
        "variable_values",
        "async_helpers",
        "collected_errors",
        "pending_incremental_futures",
        "background_futures",
        "async_work_finished_hook_task",
        "_relevant_sub_fields",
        "_stream_usages",
        "defer_usage_set",  # the incremental executor's
        "groups",
        "tasks",
        "streams",
        "_initial_execution_plans",
        "_deferred_execution_plans",
    }
)


def forkable(executor: Executor[Any]) -> bool:
    """Whether `forked` knows every attribute of `executor` (an executor class that keeps
    more is built anew for each request instead)."""
    return vars(executor).keys() == _SHARED | _PER_EXECUTION


def forked(
    prototype: Executor[Any], context_value: Any, variable_values: VariableValues
) -> Executor[Any]:
    """An executor of the prototype's operation for another request: what `build` would
    give for that context and those (coerced) variables, without finding the operation,
    its fragments and the executor's settings again. `prototype` is `forkable`."""
    executor = object.__new__(type(prototype))
    state = vars(executor)
    state.update(vars(prototype))
    state["context_value"] = context_value
    state["variable_values"] = variable_values
    state["async_helpers"] = GraphQLResolveInfoHelpers(
        gather=executor.gather_async_work, track=executor.track_async_work
    )
    state["collected_errors"] = CollectedErrors()
    state["pending_incremental_futures"] = set()
    state["background_futures"] = set()
    state["async_work_finished_hook_task"] = None
    state["_relevant_sub_fields"] = {}
    state["_stream_usages"] = RefMap()
    state["defer_usage_set"] = None
    state["groups"] = []
    state["tasks"] = []
    state["streams"] = []
    state["_initial_execution_plans"] = RefMap()
    state["_deferred_execution_plans"] = RefMap()
    return executor


def coerced_variables(
    prototype: Executor[Any], raw: dict[str, Any] | None
) -> VariableValues | list[GraphQLError]:
    """The request's variables coerced for the prototype's operation, as `build` coerces
    them (its default error limit), or the errors that refuse them."""
    return get_variable_values(
        prototype.schema,
        prototype.operation.variable_definitions or (),
        raw or {},
        max_errors=50,
        hide_suggestions=prototype.hide_suggestions,
    )


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


def root_fields(
    schema: GraphQLSchema, executor: Executor[Any], root: GraphQLObjectType | None = None
) -> list[Selected] | None:
    """The root selection of the executor's operation under its variables, or None when
    it holds what graphql-core runs differently (`@defer`, fragment variables). `root`:
    the operation's root type (the query type unless named)."""
    root = root if root is not None else schema.query_type
    assert root is not None
    collected = collect_fields(
        schema,
        executor.fragments,
        executor.variable_values,
        root,
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
