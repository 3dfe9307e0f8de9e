"""Strawberry logs every error of a result at ERROR with a traceback. A client's mistake
(a syntax error, a failed validation, a bad variable, a typed domain error) becomes one
INFO line instead; real faults keep their ERROR record and traceback."""

from __future__ import annotations

import logging

from graphql import GraphQLError

from resolvers.errors import DomainError
from schema.context import NotAuthenticated

log = logging.getLogger("meimages.http")


class _ClientErrorsQuietly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        if not isinstance(error, GraphQLError) or not _client_mistake(error):
            return True
        if log.isEnabledFor(logging.INFO):
            log.info("client error: %s", str(error.message).replace("\n", " ")[:300])
        return False


def _client_mistake(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | DomainError | NotAuthenticated)


def log_client_errors_quietly() -> None:
    logger = logging.getLogger("strawberry.execution")
    if not any(isinstance(f, _ClientErrorsQuietly) for f in logger.filters):
        logger.addFilter(_ClientErrorsQuietly())
