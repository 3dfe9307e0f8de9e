"""`schema.introspection` reshapes one graphql-core directive; this fails clearly when the
installed graphql-core's `@deprecated` is no longer the one that was written for."""

from __future__ import annotations

from graphql import DirectiveLocation, GraphQLDeprecatedDirective, introspection_from_schema

from schema import build_schema
from schema.introspection import DEPRECATED, UNKNOWN_TO_GRAPHQL_JS_16
from schema.strawberry_compat import graphql_schema


def test_graphql_core_s_deprecated_is_what_the_shaping_expects() -> None:
    locations = set(GraphQLDeprecatedDirective.locations)
    assert locations >= UNKNOWN_TO_GRAPHQL_JS_16, (
        "graphql-core's @deprecated no longer lists DIRECTIVE_DEFINITION: "
        "schema/introspection.py may be removed"
    )
    assert set(DEPRECATED.locations) == locations - UNKNOWN_TO_GRAPHQL_JS_16
    assert DEPRECATED.args.keys() == GraphQLDeprecatedDirective.args.keys() == {"reason"}


def test_the_served_schema_lists_no_location_graphql_js_16_lacks() -> None:
    answer = introspection_from_schema(graphql_schema(build_schema()))
    served = {
        location
        for directive in answer["__schema"]["directives"]
        for location in directive["locations"]
    }
    assert DirectiveLocation.DIRECTIVE_DEFINITION.name not in served
    deprecated = next(d for d in answer["__schema"]["directives"] if d["name"] == "deprecated")
    assert "FIELD_DEFINITION" in deprecated["locations"]
    # The SDL still prints no directive definition of its own for it.
    assert "directive @deprecated" not in build_schema().as_str()
