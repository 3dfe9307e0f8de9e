"""Fuzzing below GraphQL: raw HTTP requests against a live server, on SQLite and PostgreSQL.

Schemathesis only sends well-formed GraphQL requests. Here hypothesis draws what a broken
or hostile client sends instead: bodies of any bytes under any content type, JSON of any
shape, GraphQL multipart requests with wrong `operations`, `map`, paths and parts, paths
and path parameters with NUL, controls, escapes and odd alphabets, odd headers, and
tokens signed with the server's own secret but carrying claims of any type.

Every answer must be below 500 and never a masked "Internal server error", and the
server's log must hold no traceback afterwards. Requests go out through h11 over a plain
socket, so the bytes on the wire are exactly the drawn ones (no client normalises them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import h11
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from api.settings import Settings
from testbed.graphql import PREFLIGHT
from testbed.images import jpeg
from tests.attack.conftest import HTTP_FUZZ_REQUESTS
from tests.attack.target import Target

# Examples per request family; CI keeps the default, a deeper run sets more.
EXAMPLES = int(os.environ.get("MEIMAGES_HTTP_FUZZ_EXAMPLES", "120"))
OWNER = "http-fuzz-owner"
QUERY = "{ meImages { id kind } profile { aiUsesReferenceImages } }"
UPLOAD = (
    "mutation($file: Upload!) { uploadMeImage(file: $file) {"
    " __typename ... on Error { code message } } }"
)
# Header values h11 accepts: visible latin-1 and inner spaces (a server never sees more).
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_categories=["Cc"]),
    min_size=1,
    max_size=60,
)
# Any code point, surrogates included (hypothesis leaves them out unless asked), and the
# characters that broke a database or an encoder before, drawn often.
ANY_CHAR = st.one_of(
    st.characters(exclude_categories=()),
    st.sampled_from(["\x00", "\ud800", "\udfff", "\ufffd", "\n", "\x7f", "\u2028"]),
)
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    ANY_TEXT,
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/graphql-response+json",
        ]
    ),
    st.sampled_from(
        [
            "application/json; charset=utf-16",
            "application/graphql",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=xyz",
            "multipart/mixed; boundary=xyz",
            "image/jpeg",
            "",
        ]
    ),
    HEADER_TEXT,
)


@dataclass
class Answer:
    status: int
    body: bytes


@dataclass
class Wire:
    """Sends one request over a fresh connection and checks the answer."""

    target: Target
    family: str
    sent: int = 0
    answers: dict[int, int] = field(default_factory=dict)

    def send(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> Answer:
        answer = raw_request(self.target.port, method, target, headers, body)
        self.sent += 1
        HTTP_FUZZ_REQUESTS[f"{self.family} {self.target.backend}"] = self.sent
        self.answers[answer.status] = self.answers.get(answer.status, 0) + 1
        text = answer.body.decode("utf-8", "replace")
        assert answer.status < 500, (method, target, headers, body[:300], text[:300])
        assert "internal server error" not in text.lower(), (method, target, body[:300], text)
        assert "Traceback" not in text
        return answer


def raw_request(
    port: int, method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> Answer:
    conn = h11.Connection(h11.CLIENT)
    all_headers = [
        ("Host", f"127.0.0.1:{port}"),
        ("Connection", "close"),
        ("Content-Length", str(len(body))),
        *[(k, v) for k, v in headers if k.lower() not in ("host", "content-length")],
    ]
    request = h11.Request(
        method=method,
        target=target.encode("ascii"),
        headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in all_headers],
    )
    status = 0
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            conn.send(request) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
        )
        for _ in range(100_000):  # bounded; each round reads or parses something
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
    return Answer(status, b"".join(chunks))


def log_size(target: Target) -> int:
    return server_log(target).stat().st_size


def server_log(target: Target) -> Path:
    return target.live.data_dir / f"server-{target.port}.log"


@pytest.fixture
def wire(live: Target, request: pytest.FixtureRequest) -> Iterator[Wire]:
    """The family's requests; afterwards the server is healthy and logged no traceback."""
    start = log_size(live)
    wire = Wire(live, request.node.name.split("[")[0].removeprefix("test_"))
    yield wire
    assert live.healthy()
    with server_log(live).open("rb") as log:
        log.seek(start)
        written = log.read().decode("utf-8", "replace")
    assert "Traceback" not in written, written[-3000:]
    assert wire.sent >= EXAMPLES // 2, wire.sent


def fuzz_settings() -> settings:
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )


def auth(target: Target) -> list[tuple[str, str]]:
    return [(k, v) for k, v in target.headers(OWNER).items()]


# Bodies -------------------------------------------------------------------------------

BODIES = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda v: json.dumps(v).encode()),
    # Right keys, any value types: query / variables / operationName / extensions.
    st.fixed_dictionaries(
        {},
        optional={
            "query": st.one_of(st.just(QUERY), st.just(UPLOAD), JSON),
            "variables": JSON,
            "operationName": JSON,
            "extensions": JSON,
        },
    ).map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"\xff\xfe\xfd", b"\xef\xbb\xbf{}", b"\x00", b"[]", b"[{}]", b"{" * 3000]),
)


def test_bodies(live: Target, wire: Wire) -> None:
    @fuzz_settings()
    @given(
        body=BODIES,
        content_type=CONTENT_TYPES,
        method=st.sampled_from(["POST"] * 6 + ["GET", "PUT"]),
        path=st.sampled_from(["/graphql"] * 4 + ["/api/v1/profile/me-images/upload", "/"]),
        authorised=st.sampled_from([True, True, True, False]),
    )
    def fuzz(body: bytes, content_type: str, method: str, path: str, authorised: bool) -> None:
        headers = [("Content-Type", content_type)] if content_type else []
        headers += auth(live) if authorised else []
        wire.send(method, path, headers, body)

    fuzz()


# GraphQL multipart requests -------------------------------------------------------------

MAP_PATHS = st.one_of(
    st.lists(
        st.sampled_from(["variables", "file", "f", "0", "1", "-1", "x", "", "query", "99"]),
        min_size=0,
        max_size=5,
    ).map(".".join),
    JSON,
)


@st.composite
def multipart_requests(draw: st.DrawFn) -> tuple[bytes, str]:
    """A multipart body with any mix of right and wrong `operations`, `map` and parts."""
    variables = draw(
        st.one_of(
            st.just({"file": None}),
            st.just({"file": [None, None]}),
            st.just({"file": {"x": None}}),
            JSON,
        )
    )
    operations = draw(
        st.one_of(
            st.just({"query": UPLOAD, "variables": variables}),
            st.fixed_dictionaries({"query": st.just(UPLOAD), "variables": JSON}),
            JSON,
        )
    )
    files_map = draw(
        st.one_of(
            st.just({"0": ["variables.file"]}),
            st.dictionaries(
                st.sampled_from(["0", "1", "operations", "map", ""]),
                st.one_of(st.lists(MAP_PATHS, max_size=3), JSON),
                max_size=3,
            ),
            JSON,
        )
    )
    parts: list[tuple[str, str | None, bytes]] = []
    for name, value in (("operations", operations), ("map", files_map)):
        encoded = json.dumps(value).encode()
        form = draw(st.sampled_from(["field", "field", "file", "raw", "missing"]))
        if form == "field":
            parts.append((name, None, encoded))
        elif form == "file":
            parts.append((name, "x.json", encoded))
        elif form == "raw":
            parts.append((name, None, draw(st.binary(max_size=40))))
    for name in draw(st.lists(st.sampled_from(["0", "1", "file", "operations"]), max_size=3)):
        as_file = draw(st.booleans())
        data = draw(st.sampled_from([jpeg(91), b"", b"not an image", b"\xff\xd8\xff"]))
        parts.append((name, "photo.jpg" if as_file else None, data))
    boundary = draw(st.sampled_from(["fuzzboundary", "a", "x" * 70]))
    return encode_multipart(parts, boundary), boundary


def encode_multipart(parts: list[tuple[str, str | None, bytes]], boundary: str) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: image/jpeg\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_multipart(live: Target, wire: Wire) -> None:
    @fuzz_settings()
    @given(
        request=multipart_requests(),
        path=st.sampled_from(["/graphql", "/graphql", "/api/v1/profile/me-images/upload"]),
        truncate=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
    )
    def fuzz(request: tuple[bytes, str], path: str, truncate: int | None) -> None:
        body, boundary = request
        if truncate is not None:
            body = body[:truncate]
        headers = [("Content-Type", f"multipart/form-data; boundary={boundary}"), *auth(live)]
        wire.send("POST", path, headers, body)

    fuzz()


# Paths, path parameters, query strings --------------------------------------------------

SEGMENT = st.one_of(
    st.binary(max_size=30).map(lambda b: quote_from_bytes(b, safe="")),
    ANY_TEXT.map(lambda t: quote_from_bytes(t.encode("utf-8", "surrogatepass"), safe="")),
    st.sampled_from(
        [
            "original",
            "thumbnail",
            "w320h240-cover.webp",
            "w99999h1-cover.png",
            "00000000-0000-0000-0000-000000000000",
            "%00",
            "a%00",
            "%ed%a0%80",
            "%ff",
            "..",
            "%2e%2e",
            "x" * 300,
        ]
    ),
)
QUERY_VALUE = st.one_of(
    st.sampled_from(["9999999999", "1", "\u00b2", "\u0663", "-1", "1e9", "", "0" * 20]),
    ANY_TEXT,
)


VARIANT = st.one_of(
    st.sampled_from(["original", "thumbnail", "medium", "w320h240-cover.webp"]), SEGMENT
)


@st.composite
def paths(draw: st.DrawFn, media_id: str) -> str:
    shape = draw(st.sampled_from(["media", "media", "media", "graphiql", "api", "any"]))
    if shape == "media":
        # A real id with something appended, or any segment; a variant that is often valid,
        # so the id gets as far as a database lookup would take it.
        ident = draw(st.one_of(SEGMENT.map(lambda s: media_id + s), SEGMENT))
        path = f"/media/{ident}/{draw(VARIANT)}"
    elif shape == "graphiql":
        path = f"/graphiql/assets/{draw(SEGMENT)}"
    elif shape == "api":
        path = f"/api/v1/profile/me-images/{draw(SEGMENT)}"
    else:
        path = "/" + "/".join(draw(st.lists(SEGMENT, max_size=4)))
    params = draw(
        st.lists(
            st.tuples(st.sampled_from(["exp", "sig", "query", "variables", "x"]), QUERY_VALUE),
            max_size=3,
        )
    )
    if params:
        path += "?" + "&".join(
            f"{k}={quote_from_bytes(v.encode('utf-8', 'surrogatepass'), safe='')}"
            for k, v in params
        )
    return path


def test_paths(live: Target, wire: Wire) -> None:
    media_id = live.upload(OWNER, jpeg(92)).json()["data"]["uploadMeImage"]["mediaId"]

    @fuzz_settings()
    @given(
        path=paths(media_id),
        method=st.sampled_from(["GET", "GET", "HEAD", "POST", "DELETE", "OPTIONS"]),
        authorised=st.booleans(),
    )
    def fuzz(path: str, method: str, authorised: bool) -> None:
        wire.send(method, path, auth(live) if authorised else [])

    fuzz()


# Headers -----------------------------------------------------------------------------------

HEADER_NAMES = [
    "Authorization",
    "Content-Type",
    "Accept",
    "If-None-Match",
    "Origin",
    "GraphQL-Require-Preflight",
    "Cookie",
    "X-Forwarded-For",
    "Transfer-Encoding-X",
]


def test_headers(live: Target, wire: Wire) -> None:
    query = quote_from_bytes(QUERY.encode(), safe="")

    @fuzz_settings()
    @given(
        extra=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_TEXT), max_size=4),
        bearer=st.one_of(st.none(), HEADER_TEXT.map(lambda t: f"Bearer {t}")),
        method_path=st.sampled_from(
            [
                ("POST", "/graphql"),
                ("GET", f"/graphql?query={query}"),
                ("POST", "/api/v1/profile/me-images/upload"),
                ("GET", "/graphiql"),
            ]
        ),
    )
    def fuzz(
        extra: list[tuple[str, str]], bearer: str | None, method_path: tuple[str, str]
    ) -> None:
        method, path = method_path
        headers = [*auth(live), *PREFLIGHT.items(), ("Content-Type", "application/json")]
        names = {name.lower() for name, _ in extra} | ({"authorization"} if bearer else set())
        headers = [(k, v) for k, v in headers if k.lower() not in names]
        headers += extra + ([("Authorization", bearer)] if bearer else [])
        wire.send(method, path, headers, json.dumps({"query": QUERY}).encode())

    fuzz()


# Token claims -------------------------------------------------------------------------------

CLAIM = st.one_of(
    JSON,
    st.sampled_from(["a\x00", "\ud800", "x" * 201, "", " ", "me", "\ufffd", "a\nb"]),
    ANY_TEXT,
)
NUMBER_CLAIM = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(int(time.time()) + 3600),
    JSON,
)


def sign(claims: dict[str, Any], secret: str, extra_header: dict[str, Any] | None) -> str:
    """An HS256 token signed by hand: PyJWT would refuse to encode some of these headers."""

    def part(value: object) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = (
        part({**(extra_header or {}), "alg": "HS256", "typ": "JWT"}) + b"." + part(claims)
    )
    mac = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


def test_token_claims(live: Target, wire: Wire) -> None:
    secret = Settings(data_dir=live.live.data_dir).with_local_secrets().jwt_secret
    media_id = live.upload(OWNER, jpeg(93)).json()["data"]["uploadMeImage"]["mediaId"]

    @fuzz_settings()
    @given(
        claims=st.fixed_dictionaries(
            {
                "exp": st.one_of(st.just(int(time.time()) + 3600), NUMBER_CLAIM),
                "sub": st.one_of(st.just(OWNER), CLAIM),
            },
            optional={
                "space": CLAIM,
                "iat": NUMBER_CLAIM,
                "nbf": NUMBER_CLAIM,
                "aud": CLAIM,
                "iss": CLAIM,
            },
        ),
        header=st.one_of(st.none(), st.dictionaries(st.sampled_from(["kid", "typ", "crit"]), JSON)),
        door=st.sampled_from(["graphql", "graphql", "media", "upload", "subscription"]),
    )
    def fuzz(claims: dict[str, Any], header: dict[str, Any] | None, door: str) -> None:
        token = sign(claims, secret, header)
        headers = [("Authorization", f"Bearer {token}"), *PREFLIGHT.items()]
        if door == "graphql":
            body = json.dumps({"query": QUERY}).encode()
            wire.send("POST", "/graphql", [*headers, ("Content-Type", "application/json")], body)
        elif door == "media":
            wire.send("GET", f"/media/{media_id}/thumbnail", headers)
        elif door == "upload":
            body = encode_multipart([("file", "photo.jpg", jpeg(94))], "b")
            ctype = ("Content-Type", "multipart/form-data; boundary=b")
            wire.send("POST", "/api/v1/profile/me-images/upload", [*headers, ctype], body)
        else:
            # A subscription over plain HTTP is refused after the token was read.
            body = json.dumps({"query": "subscription { meImageEvents { __typename } }"})
            sse = [("Content-Type", "application/json"), ("Accept", "text/plain")]
            wire.send("POST", "/graphql", [*headers, *sse], body.encode())

    fuzz()
