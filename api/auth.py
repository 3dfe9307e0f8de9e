"""Bearer JWTs: HS256 with the server's secret (embedded setup) or keys from a JWKS URL."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from typing import Any

import jwt
from starlette.datastructures import Headers
from starlette.types import Scope

from api import request_id
from api.request_checks import clean_id
from api.settings import Settings
from resolvers.cache_budget import CacheBudget, Sizing
from resolvers.stores import PERSONAL_SPACE, Caller
from schema.tokens import TOKEN_LEEWAY_S

# Far above any real token (a JWKS-signed one with many claims is a few KiB).
MAX_TOKEN = 16 * 1024
MAX_EXP = 253402300799
# Where a request keeps its authentication outcome: the caller and expiry, or the AuthError.
_OUTCOME = "meimages.authentication"
# Tokens verified lately, by their text: a client repeats its token on every request, and
# a repeat then costs a lookup instead of a signature check. Only successes are kept, each
# until its expiry (leeway included) or VERIFIED_FOR_S, whichever comes first, so a key
# dropped from the JWKS stops being honoured soon; bounded in count and token length.
VERIFIED_TOKENS = 10_000
VERIFIED_FOR_S = 60
MAX_REMEMBERED_TOKEN = 4096
# An entry's bytes besides its token text: the tuple, the expiry int, the deadline float
# (the caller is shared with the requests that carry it).
_VERIFIED_BYTES = 120


class AuthError(Exception):
    """The request carries no usable credentials; the message is safe to show."""


class Authenticator:
    def __init__(self, settings: Settings, budget: CacheBudget | None = None) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=300)
            if settings.jwt_jwks_url
            else None
        )
        # token -> (caller, exp, honoured until): see VERIFIED_TOKENS.
        self._verified = (budget if budget is not None else CacheBudget()).cache(
            "verified_tokens", Sizing.ENCODED, max_entries=VERIFIED_TOKENS
        )

    async def authenticate(self, authorization: str | None) -> tuple[Caller, int]:
        """Return the caller and the token's expiry (unix seconds)."""
        token = bearer_token(authorization)
        now = time.time()
        known: tuple[Caller, int, float] | None = self._verified.get(token)
        if known is not None and now >= known[2]:
            self._verified.pop(token)
            known = None
        caller, exp = (known[0], known[1]) if known is not None else await self._verify(token)
        if (record := request_id.current()) is not None:
            record.owner_id = caller.owner_id  # the access log shows it hashed
        if known is not None:
            return caller, exp
        if len(token) <= MAX_REMEMBERED_TOKEN:
            until = min(exp + TOKEN_LEEWAY_S, now + VERIFIED_FOR_S)
            self._verified.put(token, (caller, exp, until), _VERIFIED_BYTES + sys.getsizeof(token))
        return caller, exp

    async def _verify(self, token: str) -> tuple[Caller, int]:
        claims = await self._decode(token)
        sub = claims.get("sub")
        space = claims.get("space", PERSONAL_SPACE)
        # Claims become keys of every row: text no database can store never gets that far.
        if not clean_id(sub):
            raise AuthError("the token has no valid subject")
        if not clean_id(space):
            raise AuthError("the token has an invalid space claim")
        # An expiry past year 9999 means "never" and must not overflow date or timer maths.
        return Caller(owner_id=sub, space_id=space), min(int(claims["exp"]), MAX_EXP)

    async def authenticate_request(self, scope: Scope) -> tuple[Caller, int]:
        """`authenticate` with the request's Authorization header, once per request: the
        query cache and the GraphQL view behind it share the outcome through the scope."""
        outcome: tuple[Caller, int] | AuthError | None = scope.get(_OUTCOME)
        if outcome is None:
            try:
                outcome = await self.authenticate(Headers(scope=scope).get("authorization"))
            except AuthError as exc:
                outcome = exc
            scope[_OUTCOME] = outcome
        if isinstance(outcome, AuthError):
            raise outcome
        return outcome

    async def _decode(self, token: str) -> Mapping[str, Any]:
        options: Any = {"require": ["exp", "sub"]}
        kwargs: dict[str, Any] = {"algorithms": list(self.settings.jwt_algorithms)}
        if self.settings.jwt_issuer:
            kwargs["issuer"] = self.settings.jwt_issuer
        if self.settings.jwt_audience:
            kwargs["audience"] = self.settings.jwt_audience
        else:
            options["verify_aud"] = False
        try:
            if self._jwks is not None:
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: Any = signing_key.key
            else:
                key = self.settings.jwt_secret
            return jwt.decode(token, key, options=options, leeway=TOKEN_LEEWAY_S, **kwargs)
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("the token has expired") from exc
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
            # OverflowError: an `exp` of 1e999 (JSON allows it) has no integer value.
            raise AuthError("the token is not valid") from exc


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("authentication required: send Authorization: Bearer <token>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > MAX_TOKEN:
        raise AuthError("authentication required: send Authorization: Bearer <token>")
    return token.strip()


def issue_token(settings: Settings, user: str, space: str | None = None, ttl_s: int = 86400) -> str:
    """Mint an HS256 token with the embedded secret (dev and single-machine use)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user, "iat": now, "exp": now + ttl_s}
    if space:
        claims["space"] = space
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
