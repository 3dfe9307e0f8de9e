"""The one error path: every domain error has one GraphQL type, one code, one REST answer."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from typing import Annotated

import pytest
import strawberry

import resolvers
from resolvers import errors as domain
from resolvers.events import cursors
from resolvers.generation import errors as generation_errors
from resolvers.lifecycle.self_deletion import SelfDeletionDisabled
from resolvers.media.sanitising import ImageRejected, Rejection
from resolvers.pool import cap
from resolvers.portability.errors import ArchiveProblem, InvalidArchive
from resolvers.rate_limits import RateLimited
from schema import build_schema
from schema.enums import ErrorCode
from schema.error_map import describe, exception_handlers, represented, to_graphql
from schema.errors import InvalidInputError, UnsupportedMediaTypeError
from schema.limits import ErrorCodes


def _domain_errors() -> list[type[domain.DomainError]]:
    # Import every resolvers module, so an error class defined anywhere is seen.
    for module in pkgutil.walk_packages(resolvers.__path__, "resolvers."):
        importlib.import_module(module.name)
    found, todo = [], list(domain.DomainError.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_domain_error_has_a_graphql_type_and_a_code() -> None:
    schema_types = {t.name for t in build_schema()._schema.type_map.values()}
    codes = {code.value for code in ErrorCode}
    for cls in _domain_errors():
        assert cls.code in codes, f"{cls.__name__}.code {cls.code!r} is not an ErrorCode"
        error_type = next((represented()[c] for c in cls.__mro__ if c in represented()), None)
        assert error_type is not None, f"no GraphQL type represents {cls.__name__}"
        assert error_type.__strawberry_definition__.name in schema_types  # type: ignore[attr-defined]


def test_every_code_is_declared_by_a_domain_error_under_its_own_name() -> None:
    declared = {cls.code for cls in _domain_errors()}
    for code in ErrorCode:
        assert code.name == code.value
        assert code.value in declared, f"no domain error has the code {code.value}"


def test_each_domain_error_class_is_represented_once() -> None:
    types = list(represented().values())
    assert len(types) == len(set(types))
    assert len(exception_handlers()) == len(types)


# One instance of every represented domain error (a subclass stands for its parent).
EXAMPLES: list[tuple[domain.DomainError, str, dict[str, object]]] = [
    (domain.NotFound(), "NotFoundError", {}),
    (domain.InvalidInput("bad", field="kind"), "InvalidInputError", {"field": "kind"}),
    (domain.TooLarge("big", max_bytes=10), "TooLargeError", {"max_bytes": 10}),
    (ImageRejected(Rejection.SVG, "svg"), "UnsupportedMediaTypeError", {}),
    (cursors.CursorTooOld(), "CursorTooOldError", {}),
    (cap.PoolFull(1000), "PoolFullError", {"cap": 1000}),
    (
        RateLimited("2 uploads per minute", retry_after=7),
        "RateLimitedError",
        {"limit": "2 uploads per minute", "retry_after": 7},
    ),
    (
        domain.TokenExpired(datetime(2030, 1, 1, tzinfo=UTC)),
        "TokenExpiredError",
        {"expired_at": datetime(2030, 1, 1, tzinfo=UTC)},
    ),
    (
        generation_errors.InsufficientCredits(required=30, available=3),
        "InsufficientCreditsError",
        {"required": 30, "available": 3},
    ),
    (
        generation_errors.ReferenceNotUsable(["a", "b"]),
        "ReferenceNotUsableError",
        {"reference_ids": ["a", "b"]},
    ),
    (
        generation_errors.ProviderNotConfigured("gemini"),
        "ProviderNotConfiguredError",
        {"provider": "gemini"},
    ),
    (
        generation_errors.OrganizationNotVerified("openai", "gpt-image-2"),
        "ProviderFailedError",
        {"provider": "openai", "generation_id": None},
    ),
    (
        generation_errors.ProviderNotAllowed("openai-compatible", "owner"),
        "ProviderNotAllowedError",
        {},
    ),
    (
        generation_errors.MaskNotSupported("gemini", "gemini/gemini-2.5-flash-image"),
        "MaskNotSupportedError",
        {"provider": "gemini", "model": "gemini/gemini-2.5-flash-image"},
    ),
    (
        InvalidArchive(ArchiveProblem.SYMLINK, "is a symbolic link", entry="images/a.jpg"),
        "InvalidArchiveError",
        {"entry": "images/a.jpg"},
    ),
    (SelfDeletionDisabled(), "SelfDeletionDisabledError", {}),
]


def test_the_examples_cover_every_represented_error() -> None:
    covered = {type(to_graphql(error)) for error, _, _ in EXAMPLES}
    assert covered == set(represented().values())


@pytest.mark.parametrize(("error", "typename", "fields"), EXAMPLES)
def test_to_graphql_fills_the_type_from_the_domain_error(
    error: domain.DomainError, typename: str, fields: dict[str, object]
) -> None:
    typed = to_graphql(error)
    assert type(typed).__strawberry_definition__.name == typename  # type: ignore[attr-defined]
    assert typed.code.value == error.code and typed.message == error.message
    for name, value in fields.items():
        assert getattr(typed, name) == value


def test_describe_gives_the_rest_routes_status_code_and_details() -> None:
    rejected = describe(ImageRejected(Rejection.SVG, "an SVG file"))
    assert (rejected.http_status, rejected.code) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert rejected.extra == {"reason": "svg"}
    too_large = describe(domain.TooLarge("over the limit", max_bytes=10))
    assert (too_large.http_status, too_large.extra) == (413, {"maxBytes": 10})
    assert describe(domain.NotFound()).http_status == 404
    invalid = describe(domain.InvalidInput("no file"))
    assert (invalid.http_status, invalid.message, invalid.extra) == (400, "no file", {})


@strawberry.type
class Done:
    ok: bool


ProbeResult = Annotated[
    Done | InvalidInputError | UnsupportedMediaTypeError, strawberry.union("ProbeResult")
]


@strawberry.type
class Query:
    @strawberry.field
    def probe(self, which: str) -> ProbeResult:
        errors: dict[str, domain.DomainError] = {
            "invalid": domain.InvalidInput("bad", field="x"),
            "rejected": ImageRejected(Rejection.PDF, "a PDF"),
            "missing": domain.NotFound(),
        }
        if which in errors:
            raise errors[which]
        return Done(ok=True)


def test_a_union_member_is_returned_and_anything_else_is_an_error_with_its_code() -> None:
    schema = strawberry.Schema(
        Query, exception_handlers=exception_handlers(), extensions=[ErrorCodes]
    )
    query = "query($w: String!) { probe(which: $w) { __typename ... on Error { code } ... on UnsupportedMediaTypeError { reason } ... on Done { ok } } }"
    assert schema.execute_sync(query, {"w": "ok"}).data == {
        "probe": {"__typename": "Done", "ok": True}
    }
    invalid = schema.execute_sync(query, {"w": "invalid"})
    assert invalid.data == {"probe": {"__typename": "InvalidInputError", "code": "INVALID_INPUT"}}
    rejected = schema.execute_sync(query, {"w": "rejected"})
    assert rejected.data == {
        "probe": {
            "__typename": "UnsupportedMediaTypeError",
            "code": "UNSUPPORTED_MEDIA_TYPE",
            "reason": "PDF",
        }
    }
    missing = schema.execute_sync(query, {"w": "missing"})
    assert missing.data is None and missing.errors
    assert missing.errors[0].extensions == {"code": "NOT_FOUND"}
