"""A token verified once is not verified again while it holds, and never past its expiry."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from api.auth import Authenticator, AuthError
from api.settings import Settings
from schema.tokens import TOKEN_LEEWAY_S


def _token(settings: Settings, sub: str, exp: float) -> str:
    return jwt.encode({"sub": sub, "exp": int(exp)}, settings.jwt_secret, algorithm="HS256")


@pytest.fixture
def authenticator(tmp_path: Any) -> Authenticator:
    return Authenticator(Settings(data_dir=tmp_path, jwt_secret="s" * 40))


async def test_a_repeated_token_is_not_decoded_again(
    authenticator: Authenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    decode = authenticator._decode
    decodes = 0

    async def counting(token: str) -> Any:
        nonlocal decodes
        decodes += 1
        return await decode(token)

    monkeypatch.setattr(authenticator, "_decode", counting)
    token = _token(authenticator.settings, "ada", time.time() + 3600)
    first = await authenticator.authenticate(f"Bearer {token}")
    assert await authenticator.authenticate(f"Bearer {token}") == first
    assert first[0].owner_id == "ada" and decodes == 1
    # Another token (another subject) is verified on its own.
    other = _token(authenticator.settings, "bob", time.time() + 3600)
    assert (await authenticator.authenticate(f"Bearer {other}"))[0].owner_id == "bob"
    assert decodes == 2


async def test_a_remembered_token_ends_at_its_expiry(
    authenticator: Authenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    decode = authenticator._decode
    decoded: list[str] = []

    async def counting(token: str) -> Any:
        decoded.append(token)
        return await decode(token)

    monkeypatch.setattr(authenticator, "_decode", counting)
    now = time.time()
    token = _token(authenticator.settings, "ada", now + 5)
    await authenticator.authenticate(f"Bearer {token}")
    await authenticator.authenticate(f"Bearer {token}")
    assert len(decoded) == 1
    # Past its expiry and the leeway the remembered answer no longer counts: the token
    # is judged again (PyJWT reads its own clock, which says it is valid still).
    later = now + 5 + TOKEN_LEEWAY_S + 1
    monkeypatch.setattr(time, "time", lambda: later)
    await authenticator.authenticate(f"Bearer {token}")
    assert len(decoded) == 2


async def test_failures_are_not_remembered(authenticator: Authenticator) -> None:
    forged = jwt.encode({"sub": "ada", "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS256")
    for _ in range(2):
        with pytest.raises(AuthError):
            await authenticator.authenticate(f"Bearer {forged}")
    assert len(authenticator._verified) == 0
