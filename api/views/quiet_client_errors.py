"""Strawberry logs every error of a result at ERROR with a traceback. A client's mistake
(a syntax error, a failed validation, a bad variable, a typed domain error) becomes one
INFO line instead; real faults keep their ERROR record and traceback."""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError

from resolvers.errors import DomainError
from schema.context import NotAuthenticated

log = logging.getLogger("meimages.http")
# graphql-core quotes refused values after "invalid value"/"cannot represent …:" and in
# double quotes; names (fields, types, variables) are single-quoted and stay.
_VALUE_AFTER = re.compile(r"((?:invalid value|cannot represent[^:]*|found)):.*")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


class _ClientErrorsQuietly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        if not isinstance(error, GraphQLError) or not _client_mistake(error):
            return True
        if log.isEnabledFor(logging.INFO):
            log.info("client error: %s", _without_values(error.message)[:300])
        return False


def _without_values(message: str) -> str:
    """The message without the values a client sent (labels, prompts, tags ride in them):
    what a value was refused for stays, the value does not."""
    message = message.replace("\n", " ")
    message = _VALUE_AFTER.sub(r"\1", message)
    return _QUOTED.sub('"…"', message)


def _client_mistake(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | DomainError | NotAuthenticated)


def log_client_errors_quietly() -> None:
    logger = logging.getLogger("strawberry.execution")
    if not any(isinstance(f, _ClientErrorsQuietly) for f in logger.filters):
        logger.addFilter(_ClientErrorsQuietly())
