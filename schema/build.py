"""Assembles the GraphQL schema: the capability packages' roots, the extensions, the error map."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    NoSchemaIntrospectionCustomRule,
    ValidationContext,
    Visitor,
    visit,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.file_uploads import Upload
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from resolvers.cache_budget import CacheBudget
from schema.cost import MaxQueryCost
from schema.document_caches import CachedParse, CachedValidation, parsed_documents
from schema.error_map import exception_handlers
from schema.errors import (
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    TooLargeError,
    UnsupportedMediaTypeError,
)
from schema.events.queries import EventsQuery
from schema.events.shared import SharedEventExecution
from schema.events.subscriptions import EventsSubscription
from schema.generation.mutations import GenerationMutation
from schema.generation.queries import GenerationQuery
from schema.introspection import readable_by_graphql_js_16
from schema.limits import (
    ErrorCodes,
    HideSchemaNames,
    HideSuggestions,
    MaskUnexpectedErrors,
    MaxErrors,
    StorableText,
    should_mask,
)
from schema.node_queries import NodeQuery
from schema.options import SchemaOptions
from schema.pool.mutations import PoolMutation
from schema.pool.queries import PoolQuery
from schema.portability.mutations import PortabilityMutation
from schema.portability.queries import PortabilityQuery
from schema.scalars import STRICT_UPLOAD
from schema.strawberry_compat import HookedSchema, graphql_schema

# Each capability contributes its own root fields; the roots are their union.
Query = merge_types("Query", (NodeQuery, PoolQuery, GenerationQuery, EventsQuery, PortabilityQuery))
Mutation = merge_types("Mutation", (PoolMutation, GenerationMutation, PortabilityMutation))
Query.__strawberry_definition__.description = "Read the caller's data in the active space."  # type: ignore[attr-defined]
Mutation.__strawberry_definition__.description = "Change the caller's data in the active space."  # type: ignore[attr-defined]
Subscription = merge_types("Subscription", (EventsSubscription,))
Subscription.__strawberry_definition__.description = "Live changes in the active space."  # type: ignore[attr-defined]


def validation_rules(options: SchemaOptions) -> list[type[ASTValidationRule]]:
    """The rules added to GraphQL's own: depth and alias limits, and no introspection
    where it is off (compiled reads validate with them too)."""
    rules: list[type[ASTValidationRule]] = [
        *map(
            _defined_fragments_only, QueryDepthLimiter(max_depth=options.max_depth).validation_rules
        ),
        *MaxAliasesLimiter(max_alias_count=options.max_aliases).validation_rules,
    ]
    if not options.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def _defined_fragments_only(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """The depth limiter looks every spread fragment up by name, and a spread of a fragment
    the document does not define raised a KeyError (a 500 on the compiled-read path, an
    error without a code elsewhere). Such a document is refused by KnownFragmentNamesRule;
    the limiter sits it out."""

    class DefinedFragmentsOnly(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            if _undefined_spreads(context.document):
                ASTValidationRule.__init__(self, context)
                return
            super().__init__(context)

    DefinedFragmentsOnly.__name__ = DefinedFragmentsOnly.__qualname__ = rule.__name__
    return DefinedFragmentsOnly


class FragmentSpreads(Visitor):
    """Collects the names of the fragments a document (or a part of it) spreads."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def _undefined_spreads(document: DocumentNode) -> bool:
    defined = {d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    spreads = FragmentSpreads()
    visit(document, spreads)
    return not spreads.names <= defined


def build(options: SchemaOptions) -> strawberry.Schema:
    # The limiters' rule classes are built once: the validation cache keys on the rule
    # classes, and a fresh class per request would make every request a cache miss.
    rules = validation_rules(options)
    budget = options.cache_budget if options.cache_budget is not None else CacheBudget()
    documents = parsed_documents(budget)
    # Factories, not instances: each request gets fresh extension objects.
    # Hooks are entered in this order and left in reverse (`LifecycleHooks`): the outer
    # extensions (observing the operation) come first, so they are left last and see the
    # final errors — coded, masked, capped.
    extensions: list[Callable[[], SchemaExtension]] = [
        *options.outer_extensions,
        partial(MaxTokensLimiter, max_token_count=options.max_tokens),
        partial(CachedParse, documents),
        partial(AddValidationRules, rules),
        partial(CachedValidation, documents),
        partial(
            MaskUnexpectedErrors,
            should_mask_error=should_mask,
            error_message="Internal server error.",
        ),
        partial(MaxErrors, options.max_errors),
        # Production mode. Hooks are left in reverse order: these judge the messages
        # after ErrorCodes (listed below them) has given every error its code.
        *([] if options.suggestions else [HideSuggestions, HideSchemaNames]),
        ErrorCodes,
        partial(StorableText, documents),
        *options.extensions,
        partial(MaxQueryCost, options.max_cost),
    ]
    built = HookedSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            NotFoundError,
            InvalidInputError,
            TooLargeError,
            UnsupportedMediaTypeError,
            RateLimitedError,
        ],
        extensions=extensions,
        # Domain errors become the typed members of result unions (see schema/errors.py).
        exception_handlers=exception_handlers(),
        # A subscription event runs once per document, variables and owner.
        execution_context_class=SharedEventExecution,
        config=StrawberryConfig(
            disable_field_suggestions=not options.suggestions, scalar_map={Upload: STRICT_UPLOAD}
        ),
    )
    readable_by_graphql_js_16(graphql_schema(built))
    return built
