"""What the schema tells introspection, kept readable by graphql-js 16 tools.

graphql-core 3.3 lists DIRECTIVE_DEFINITION among the locations of `@deprecated` (a
location graphql-js 17 adds). graphql-js 16, which most tools still run (code generators,
IDE plugins, graphql-inspector), builds a client schema from such an answer, but its own
`__DirectiveLocation` enum has no such value: introspecting or printing that client schema
again fails. No directive of this schema is ever used on a directive definition, so the
served `@deprecated` leaves that location out; everything else about it is graphql-core's.

Pinning graphql-core below 3.3 would fix only this and give up the rest of the release;
this shapes one directive, checked by `tests/schema/test_introspection_compat.py`, which
fails when graphql-core's `@deprecated` no longer looks like what this was written for.
"""

from __future__ import annotations

from graphql import DirectiveLocation, GraphQLDeprecatedDirective, GraphQLDirective, GraphQLSchema

# Locations graphql-js 16's `__DirectiveLocation` does not know.
UNKNOWN_TO_GRAPHQL_JS_16 = frozenset({DirectiveLocation.DIRECTIVE_DEFINITION})

DEPRECATED = GraphQLDirective(
    name=GraphQLDeprecatedDirective.name,
    locations=[
        location
        for location in GraphQLDeprecatedDirective.locations
        if location not in UNKNOWN_TO_GRAPHQL_JS_16
    ],
    args=GraphQLDeprecatedDirective.args,
    description=GraphQLDeprecatedDirective.description,
    is_repeatable=GraphQLDeprecatedDirective.is_repeatable,
)


def readable_by_graphql_js_16(schema: GraphQLSchema) -> None:
    """Serve `DEPRECATED` in place of graphql-core's `@deprecated`."""
    schema.directives = tuple(
        DEPRECATED if directive is GraphQLDeprecatedDirective else directive
        for directive in schema.directives
    )
