"""Production mode hides the schema: no introspection, no suggestions, and no validation
message that names what the request did not write. Every validation rule graphql-core
runs is made to fire (each document is first shown to trigger its rule), then its
answer from a production server is scanned for the schema's names."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    OperationType,
    parse,
    specified_rules,
    validate,
)

from api.settings import Settings
from schema import SchemaOptions, build_schema
from schema.build import validation_rules
from schema.limits import GRAPHQL_VALIDATION_FAILED, _written
from schema.strawberry_compat import graphql_schema
from tests.support.app import Api, running_api

# One document per rule, each failing that rule.
DOCUMENTS = {
    "ExecutableDefinitionsRule": "{ profile { ownerId } } type Foo { a: Int }",
    "UniqueOperationNamesRule": "query A { profile { ownerId } } query A { profile { spaceId } }",
    "LoneAnonymousOperationRule": "{ profile { ownerId } } query B { profile { spaceId } }",
    "SingleFieldSubscriptionsRule": "subscription S { a: meImageEvents { __typename } b: meImageEvents { __typename } }",
    "KnownTypeNamesRule": "query Q($x: Profil) { profile { ownerId } }",
    "FragmentsOnCompositeTypesRule": "{ profile { ...F } } fragment F on Boolean { __typename }",
    "VariablesAreInputTypesRule": "query Q($p: Profile) { profile { ownerId } }",
    "ScalarLeafsRule": "{ profile }",
    "FieldsOnCorrectTypeRule": "{ profil { ownerId } }",
    "UniqueFragmentNamesRule": "{ profile { ...F } } fragment F on Profile { ownerId } fragment F on Profile { spaceId }",
    "KnownFragmentNamesRule": "{ profile { ...G } }",
    "NoUnusedFragmentsRule": "{ profile { ownerId } } fragment F on Profile { ownerId }",
    "PossibleFragmentSpreadsRule": "{ profile { ... on MeImage { id } } }",
    "NoFragmentCyclesRule": "{ profile { ...F } } fragment F on Profile { ...G } fragment G on Profile { ...F }",
    "UniqueVariableNamesRule": "query Q($a: ID!, $a: ID!) { meImage(id: $a) { id } }",
    "NoUndefinedVariablesRule": "query Q { meImage(id: $x) { id } }",
    "NoUnusedVariablesRule": "query Q($x: Int) { profile { ownerId } }",
    "KnownDirectivesRule": "{ profile @nope { ownerId } }",
    "UniqueDirectivesPerLocationRule": "{ profile @skip(if: false) @skip(if: false) { ownerId } }",
    "KnownArgumentNamesRule": "{ profile(nope: 1) { ownerId } }",
    "UniqueArgumentNamesRule": '{ meImage(id: "a", id: "b") { id } }',
    "ValuesOfCorrectTypeRule": "{ meImages(kind: 5) { id } }",
    "ProvidedRequiredArgumentsRule": "{ meImage { id } }",
    "VariablesInAllowedPositionRule": "query Q($id: ID) { meImage(id: $id) { id } }",
    "OverlappingFieldsCanBeMergedRule": "{ x: profile { ownerId } x: generationModels { id } }",
    "UniqueInputFieldNamesRule": 'mutation { createMeImage(input: {mediaId: "a", mediaId: "b"}) { __typename } }',
    "MaxIntrospectionDepthRule": "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
    # The rules this server adds.
    "NoSchemaIntrospectionCustomRule": '{ __type(name: "Profile") { name } }',
    "MaxAliasesValidator": "{ "
    + " ".join(f"a{i}: profile {{ ownerId }}" for i in range(31))
    + " }",
    "DepthLimitValidator": "{ profile { avatar { uses { edges { node { __typename } } } } } }",
}
# Rules that cannot fail on this schema: it has every root type, and no @defer/@stream.
CANNOT_FAIL = {
    "KnownOperationTypesRule",
    "DeferStreamDirectiveOnRootField",
    "DeferStreamDirectiveOnValidOperationsRule",
    "DeferStreamDirectiveLabel",
    "StreamDirectiveOnListField",
}
NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
OPTIONS = SchemaOptions(introspection=False, suggestions=False, max_depth=4)


def type_names() -> set[str]:
    core = graphql_schema(build_schema(OPTIONS))
    return {name for name in core.type_map if not name.startswith("__")}


def schema_names() -> set[str]:
    """Every name the schema defines: types, fields, arguments, input fields, enum values."""
    core = graphql_schema(build_schema(OPTIONS))
    names: set[str] = set()
    for name, named in core.type_map.items():
        if name.startswith("__"):
            continue
        names.add(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                names.add(field_name)
                names.update(field.args)
        elif isinstance(named, GraphQLInputObjectType):
            names.update(named.fields)
        elif isinstance(named, GraphQLEnumType):
            names.update(named.values)
    return names


def test_every_rule_has_a_document_that_fails_it() -> None:
    core = graphql_schema(build_schema(OPTIONS))
    rules = {rule.__name__: rule for rule in (*specified_rules, *validation_rules(OPTIONS))}
    assert set(rules) == set(DOCUMENTS) | CANNOT_FAIL
    assert all(core.get_type(t) for t in ("Query", "Mutation", "Subscription"))
    assert core.get_directive("defer") is core.get_directive("stream") is None
    for name, document in DOCUMENTS.items():
        assert validate(core, parse(document), [rules[name]]), name


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def production(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("prod-messages")
    database = f"sqlite+aiosqlite:///{tmp / 'p.db'}"
    settings = Settings(data_dir=tmp, database_url=database, production=True, max_query_depth=4)
    async with running_api(settings, "sqlite") as running:
        yield running


def named_in(message: str) -> set[str]:
    """The names a message shows: all it quotes, and any type name anywhere in it (field
    names such as `type` or `field` are also plain words of graphql-core's sentences)."""
    quoted = {n for q in re.findall(r"'([^']*)'", message) for n in NAME.findall(q)}
    # GraphQL's own words: "Subscription 'S' must select only one top level field."
    ordinary = {"Query", "Mutation", "Subscription", "Int", "Float", "String", "Boolean", "ID"}
    return quoted | (set(NAME.findall(message)) & (type_names() - ordinary))


async def answer(api: Api, owner: str, document: str) -> list[dict[str, Any]]:
    """The errors a production server answers (subscriptions run in-process: over HTTP
    they are refused before validation)."""
    if parse(document).definitions[0].operation is OperationType.SUBSCRIPTION:  # type: ignore[attr-defined]
        result = await build_schema(OPTIONS).execute(document)
        return [error.formatted for error in result.errors or []]
    response = await api.post(document, user=owner)
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


@pytest.mark.parametrize("rule", sorted(DOCUMENTS))
async def test_no_production_message_names_the_schema(
    production: Api, owner: str, rule: str
) -> None:
    document = DOCUMENTS[rule]
    errors = await answer(production, owner, document)
    assert errors
    hidden = schema_names() - _written(parse(document))
    for error in errors:
        assert error["extensions"]["code"] == GRAPHQL_VALIDATION_FAILED, error
        assert not named_in(error["message"]) & hidden, (rule, error["message"])
        assert "Did you mean" not in error["message"]


async def test_development_messages_do_name_the_schema(api: Api, owner: str) -> None:
    """The scan above would see a leak: the same documents in development mode show one."""
    leaking = 0
    for document in DOCUMENTS.values():
        if parse(document).definitions[0].operation is OperationType.SUBSCRIPTION:  # type: ignore[attr-defined]
            continue
        errors = (await api.post(document, user=owner)).json().get("errors", [])
        hidden = schema_names() - _written(parse(document))
        leaking += any(named_in(e["message"]) & hidden for e in errors)
    assert leaking >= 5
