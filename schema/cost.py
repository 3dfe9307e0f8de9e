"""The cost of an operation, and its limit: list fields weighted by how many items they
can return, so one request cannot ask for far more work than its size suggests.

Every field of an object type costs 1, scalars and enums 0 (they come with their object).
A list field costs its bound times (1 + what each item selects): the bound is the
argument that pages it (`first`, capped where the resolver caps it) or the cap its rule
declares (8 references, 4 images); a list with neither counts as `DEFAULT_LIST_SIZE`.
Aliases and fragments count every time they are selected; introspection (`__schema`,
`__type`) is governed by its own switch and costs nothing here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from resolvers import nodes
from resolvers.generation import ledger
from resolvers.generation.history import MAX_PAGE
from resolvers.generation.requests import MAX_IMAGES, MAX_REFERENCES
from resolvers.paging import DEFAULT_PAGE
from schema.strawberry_compat import graphql_schema

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
DEFAULT_LIST_SIZE = 20
# A pool holds a handful of images (2-10 in the source app); no rule caps it, so this is
# the size a list of them is assumed to have.
POOL_LIST_SIZE = 50


@dataclass(frozen=True)
class Paged:
    """A list bounded by an argument (an integer, or a list's length), never more than
    `cap`; `default` when the arguments are null or absent (`cap` unless said)."""

    arguments: tuple[str, ...]
    cap: int
    default: int | None = None


# Field coordinate -> its bound: a fixed count, or the argument that pages it.
LIST_BOUNDS: dict[str, int | Paged] = {
    "Query.meImages": POOL_LIST_SIZE,
    "Query.referenceImages": POOL_LIST_SIZE,
    "Generation.references": MAX_REFERENCES,
    "Generation.referenceIds": MAX_REFERENCES,
    "Generation.images": MAX_IMAGES,
    "Query.nodes": Paged(("ids",), nodes.MAX_IDS),
}


# Relay connections: the field that pages -> its bound. The connection is one object; the
# `edges` list inside it is as long as the page.
CONNECTIONS: dict[str, Paged] = {
    "Query.generations": Paged(("first",), MAX_PAGE),
    "Query.generationHistory": Paged(("first", "last"), MAX_PAGE, DEFAULT_PAGE),
    "Query.pool": Paged(("first", "last"), MAX_PAGE, DEFAULT_PAGE),
    "MeImage.uses": Paged(("first", "last"), ledger.MAX_PAGE, DEFAULT_PAGE),
}


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    # A fragment's cost depends only on the fragment: reused, so spreading a fragment
    # that spreads another twice (and so on) is priced in linear time.
    fragment_costs: dict[str, int] = field(default_factory=dict)
    # The page size of the connection being walked, for its `edges`.
    page: int | None = None

    def selections(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                named = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, named or parent)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> int:
        known = self.fragment_costs.get(name)
        if known is not None:
            return known
        self.fragment_costs[name] = 0  # a cycle never validates; this only stops the walk
        definition = self.fragments.get(name)
        cost = 0
        if definition is not None:
            named = self.schema.get_type(definition.type_condition.name.value)
            if named is not None:
                cost = self.selections(definition.selection_set, named)
        self.fragment_costs[name] = cost
        return cost

    def field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        paged = CONNECTIONS.get(f"{parent.name}.{name}")
        if paged is not None:
            outer, self.page = self.page, self.bounded(node, paged, definition)
            try:
                return 1 + self.selections(node.selection_set, named)
            finally:
                self.page = outer
        each = 1 + self.selections(node.selection_set, named)
        if not _is_list(definition):
            return each
        return self.list_size(f"{parent.name}.{name}", node, definition) * each

    def list_size(self, coordinate: str, node: FieldNode, definition: GraphQLField) -> int:
        if self.page is not None and coordinate.endswith("Connection.edges"):
            return self.page
        bound = LIST_BOUNDS.get(coordinate, DEFAULT_LIST_SIZE)
        if isinstance(bound, int):
            return bound
        return self.bounded(node, bound, definition)

    def bounded(self, node: FieldNode, bound: Paged, definition: GraphQLField) -> int:
        sizes = []
        for name in bound.arguments:
            value = self.argument(node, name, definition)
            if isinstance(value, list):
                value = len(value)
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.append(min(value, bound.cap) if value >= 0 else bound.cap)
        if sizes:
            return max(sizes)
        return bound.cap if bound.default is None else bound.default

    def argument(self, node: FieldNode, name: str, definition: GraphQLField) -> object:
        for argument in node.arguments or ():
            if argument.name.value == name:
                if isinstance(argument.value, VariableNode):
                    return self.variables.get(argument.value.name.value)
                if isinstance(argument.value, IntValueNode | ListValueNode):
                    return value_from_ast_untyped(argument.value)
                return None
        declared = definition.args.get(name)
        return declared.default_value if declared is not None else None


def _is_list(definition: GraphQLField) -> bool:
    kind = definition.type
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The cost of the operation that would run (0 when there is none to pick)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        op
        for op in operations
        if operation_name is None or (op.name is not None and op.name.value == operation_name)
    ]
    if len(chosen) != 1:
        return 0  # graphql-core refuses the request in its own words
    operation = chosen[0]
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments, variables or {})
    # Variables' defaults stand in for variables the request left out.
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in walk.variables and definition.default_value is not None:
            walk.variables = {
                **walk.variables,
                name: value_from_ast_untyped(definition.default_value),
            }
    return walk.selections(operation.selection_set, root)


class MaxQueryCost(SchemaExtension):
    """Refuse an operation whose cost exceeds the limit, before anything runs (queries,
    mutations and subscriptions alike); the refusal names the cost and the limit
    (`extensions.cost`, `extensions.maxCost`)."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        # Priced before `yield`: Strawberry reads the errors before the hooks' endings run.
        # The validation cache, earlier in the list, has validated by now, and a document
        # that is not valid is not priced.
        context = self.execution_context
        document = context.graphql_document
        cost = (
            operation_cost(
                graphql_schema(context.schema),
                document,
                context.operation_name,
                context.variables,
            )
            if document is not None and not context.pre_execution_errors
            else 0
        )
        if cost > self.max_cost:
            # A pre-execution error: refused before anything runs, whatever the operation
            # type and transport (subscriptions included).
            context.pre_execution_errors = [
                GraphQLError(
                    f"the query costs {cost}, more than the limit of {self.max_cost}; "
                    "ask for fewer items (`first`) or fewer aliased copies",
                    extensions={"code": QUERY_TOO_COSTLY, "cost": cost, "maxCost": self.max_cost},
                )
            ]
        yield
