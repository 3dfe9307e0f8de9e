"""Real deployments: RS256 and EdDSA tokens verified against a JWKS URL served on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from api.app import create_app
from api.settings import Settings
from storage import migrate

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> dict[str, Any]:
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    ed_jwk = json.loads(OKPAlgorithm.to_jwk(ED_KEY.public_key()))
    rsa_jwk.update(kid="rsa-1", alg="RS256", use="sig")
    ed_jwk.update(kid="ed-1", alg="EdDSA", use="sig")
    return {"keys": [rsa_jwk, ed_jwk]}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    body = json.dumps(jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def token(key: Any, alg: str, kid: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "idp-user",
        "iss": "https://idp.example",
        "aud": "meimages",
        "iat": now,
        "exp": now + 600,
    }
    payload.update(claims)
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


async def test_tokens_from_an_identity_provider(jwks_url: str, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "MEIMAGES_DATA_DIR": str(tmp_path),
            "MEIMAGES_JWT_JWKS_URL": jwks_url,
            "MEIMAGES_JWT_ISSUER": "https://idp.example",
            "MEIMAGES_JWT_AUDIENCE": "meimages",
        }
    )
    app = create_app(settings)
    await migrate.upgrade(app.state.server.stores.db)
    query = {"query": "{ profile { ownerId spaceId } }"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:

            async def call(tok: str) -> httpx.Response:
                return await client.post(
                    "/graphql", json=query, headers={"Authorization": f"Bearer {tok}"}
                )

            ok_rsa = await call(token(RSA_KEY, "RS256", "rsa-1", space="brand"))
            assert ok_rsa.json() == {
                "data": {"profile": {"ownerId": "idp-user", "spaceId": "brand"}}
            }
            ok_ed = await call(token(ED_KEY, "EdDSA", "ed-1"))
            assert ok_ed.json()["data"]["profile"]["spaceId"] == "personal"
            for bad in (
                token(STRANGER, "RS256", "rsa-1"),  # signed by someone else
                token(RSA_KEY, "RS256", "rsa-1", iss="https://evil.example"),
                token(RSA_KEY, "RS256", "rsa-1", aud="another-api"),
                token(RSA_KEY, "RS256", "nope"),  # unknown key id
                jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "guess", algorithm="HS256"),
            ):
                response = await call(bad)
                assert response.status_code == 401
    finally:
        await app.state.server.stores.db.dispose()
