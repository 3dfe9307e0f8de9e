"""Upload abuse against a live server with its own TMPDIR, watched through /proc.

Oversized bodies (declared and chunked) are refused with 413 while they stream in, the
server's memory stays flat, Starlette's spooled temp files never outlive a request,
thousands of file parts are refused cleanly, and hostile file names never become paths.
"""

from __future__ import annotations

import json
import re
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from testbed.images import decode, jpeg, png
from tests.attack.target import Target, launch
from tests.support.databases import BACKENDS

MAX_UPLOAD = 10 * 1024 * 1024  # the server's default limit for one file
UPLOAD_ROUTE = "/api/v1/profile/me-images/upload"
OPERATIONS = json.dumps(
    {
        "query": "mutation($f: Upload!) { uploadMeImage(file: $f) {"
        " __typename ... on MeImage { id mediaId width height storagePath publicUrl }"
        " ... on Error { code message } } }",
        "variables": {"f": None},
    }
)
# A keyed name the server chose (storage.sealed): nothing of the client's in it.
SEALED_NAME = re.compile(r"^s/([0-9a-f]{2})/\1[0-9a-f]{62}$")
HOSTILE_NAMES = [
    b"../../etc/passwd",
    b"..\\..\\windows\\win.ini",
    b"/etc/passwd",
    b"....//....//etc/passwd",
    b"%2e%2e%2fetc%2fpasswd",
    b"a\x00b.jpg",
    b"photo.jpg\x00.php",
    b"x\r\nContent-Type: text/html\r\n\r\n<script>",
    b"\x1b[31mred\x07.jpg",
    "gpj.exe\u202e.jpg".encode(),
    b"CON",
    b".",
    b"..",
    b"x" * 10_000 + b".jpg",
]


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_database: str
) -> Iterator[Target]:
    """A server of its own, so its memory and temp files tell only of these attacks."""
    target = launch(
        tmp_path_factory.mktemp(f"attack-upload-{request.param}"), request.param, pg_database
    )
    yield target
    alive = target.stop()
    assert alive, "the server died during the upload attacks"


def multipart(
    parts: list[tuple[bytes, bytes | None, bytes]], boundary: bytes = b"attackboundary"
) -> bytes:
    """A multipart body built by hand, so file names reach the server byte for byte."""
    body = b""
    for name, filename, data in parts:
        disposition = b'form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n"
        if filename is not None:
            body += b"Content-Type: image/jpeg\r\n"
        body += b"\r\n" + data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


def graphql_upload_body(files: list[tuple[bytes, bytes]]) -> bytes:
    mapping = {str(i): ["variables.f"] for i in range(min(len(files), 1))}
    parts: list[tuple[bytes, bytes | None, bytes]] = [
        (b"operations", None, OPERATIONS.encode()),
        (b"map", None, json.dumps(mapping).encode()),
    ]
    parts += [(str(i).encode(), name, data) for i, (name, data) in enumerate(files)]
    return multipart(parts)


def post_raw(server: Target, path: str, body: bytes, user: str = "abuser") -> httpx.Response:
    with server.client(timeout=60) as http:
        return http.post(
            path,
            content=body,
            headers={
                **server.headers(user),
                "content-type": "multipart/form-data; boundary=attackboundary",
            },
        )


# Oversized bodies -------------------------------------------------------------------


def refused_while_declared(
    server: Target, path: str, declared: int, *, auth: bool = True, preflight: bool = True
) -> bytes:
    """Declare a body, send only its first bytes, and see how the server answers. An answer
    at all proves it did not wait for the rest; the socket timeout only guards a hang."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if auth:
            head += f"Authorization: Bearer {server.token('abuser')}\r\n"
        if preflight:
            head += "GraphQL-Require-Preflight: 1\r\n"
        head += (
            "Content-Type: multipart/form-data; boundary=attackboundary\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"--attackboundary\r\n")
        return sock.recv(4096)


def refused_while_chunked(server: Target, path: str, total: int) -> tuple[bytes, int]:
    """Stream a chunked file part with no declared size; returns the answer and bytes sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {server.token('abuser')}\r\nGraphQL-Require-Preflight: 1\r\n"
                f"Content-Type: multipart/form-data; boundary=attackboundary\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        prefix = multipart(
            [(b"operations", None, OPERATIONS.encode()), (b"map", None, b'{"0": ["variables.f"]}')]
        )
        prefix = prefix[: -len(b"--attackboundary--\r\n")]
        prefix += b'--attackboundary\r\nContent-Disposition: form-data; name="0"; filename="big.jpg"\r\n\r\n'
        chunk = b"\xff" * 65536
        sent = 0
        sock.settimeout(2)
        try:
            sock.sendall(b"%x\r\n%s\r\n" % (len(prefix), prefix))
            while sent < total:
                if select.select([sock], [], [], 0)[0]:
                    break  # the answer came while we were still sending
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: exactly what we hope for
        sock.settimeout(60)
        return sock.recv(4096), sent


@pytest.mark.parametrize("path", ["/graphql", UPLOAD_ROUTE])
def test_declared_oversized_body_is_refused_before_it_is_read(server: Target, path: str) -> None:
    for declared in (MAX_UPLOAD + 512 * 1024, 200 * 1024 * 1024, 10**12):
        answer = refused_while_declared(server, path, declared)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert server.healthy()


@pytest.mark.parametrize("path", ["/graphql", UPLOAD_ROUTE])
def test_chunked_oversized_body_is_cut_off_at_the_limit(server: Target, path: str) -> None:
    answer, sent = refused_while_chunked(server, path, 60 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    # The server answered after about the limit, long before the 60 MB we had to send;
    # what is left is what the sockets between us buffer.
    assert sent < MAX_UPLOAD + 16 * 1024 * 1024, sent
    assert server.healthy()


def test_a_file_just_over_the_limit_gets_a_typed_error(server: Target) -> None:
    response = server.upload("abuser", jpeg(401) + b"\0" * (MAX_UPLOAD + 1 - len(jpeg(401))))
    assert response.json()["data"]["uploadMeImage"] == {
        "__typename": "TooLargeError",
        "code": "TOO_LARGE",
        "message": f"files are limited to {MAX_UPLOAD} bytes",
    }


def test_memory_stays_flat_under_oversized_uploads(server: Target) -> None:
    def attack() -> None:
        for path in ("/graphql", UPLOAD_ROUTE):
            refused_while_declared(server, path, 500 * 1024 * 1024)
            refused_while_chunked(server, path, 40 * 1024 * 1024)
        server.upload("abuser", b"\xff" * (MAX_UPLOAD + 1))

    for _ in range(2):
        attack()  # warm up: the allocator keeps one 10 MB buffer after the second upload
    before = server.rss_kib()
    for _ in range(3):
        attack()
    grown = server.rss_kib() - before
    # Three rounds pushed ~270 MB at the server; one buffered body alone is 40 MB.
    assert grown < 16 * 1024, f"RSS grew by {grown} KiB"


# Temp files and many parts -------------------------------------------------------------


def no_temp_files_left(server: Target) -> list[str]:
    """Spooled upload files are closed when the request ends (polled: the close may trail)."""
    deadline = time.monotonic() + 30  # a hang guard; the close normally trails by ms
    while (left := server.temp_files()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_spooled_upload_files_never_outlive_the_request(server: Target) -> None:
    # Parts over 1 MB spill from memory to a file in TMPDIR.
    big = [(b"big%d.jpg" % i, b"\xff" * (3 * 1024 * 1024)) for i in range(3)]
    for body in (
        graphql_upload_body(big),
        graphql_upload_body([(b"real.jpg", jpeg(402, size=(3000, 2000)) + b"\0" * 2_000_000)]),
        multipart([(b"file", b"big.jpg", b"\xff" * (4 * 1024 * 1024))]),
    ):
        for path in ("/graphql", UPLOAD_ROUTE):
            response = post_raw(server, path, body)
            assert response.status_code < 500, response.text
            assert no_temp_files_left(server) == []
    assert no_temp_files_left(server) == []


@pytest.mark.parametrize("count", [1000, 1001, 5000])
def test_thousands_of_file_parts_are_refused_cleanly(server: Target, count: int) -> None:
    files = [(b"f%d.jpg" % i, b"x") for i in range(count)]
    for path in ("/graphql", UPLOAD_ROUTE):
        response = post_raw(server, path, graphql_upload_body(files), user="many-parts")
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:200])
        assert no_temp_files_left(server) == []
    assert server.healthy()
    assert server.gql("many-parts", "{ meImages { id } }")["meImages"] == []


@pytest.mark.parametrize(
    ("path", "auth", "preflight", "status"),
    [
        ("/graphql", False, True, b"401"),
        ("/graphql", True, False, b"400"),
        (UPLOAD_ROUTE, False, True, b"401"),
    ],
)
def test_multipart_without_token_or_preflight_is_refused_before_the_body_is_read(
    server: Target, path: str, auth: bool, preflight: bool, status: bytes
) -> None:
    # A body within the limit, of which only the first bytes are ever sent: the answer
    # must come from the headers alone, or this would wait for the rest and time out.
    answer = refused_while_declared(server, path, 5 * 1024 * 1024, auth=auth, preflight=preflight)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:100]
    assert no_temp_files_left(server) == []


# Hostile file names ----------------------------------------------------------------------


@pytest.mark.parametrize("filename", HOSTILE_NAMES, ids=lambda n: repr(n[:24]))
def test_hostile_filenames_never_become_paths(server: Target, filename: bytes) -> None:
    user = "names"
    image = png(403, size=(64 + len(filename) % 50, 48))
    for path in ("/graphql", UPLOAD_ROUTE):
        body = (
            graphql_upload_body([(filename, image)])
            if path == "/graphql"
            else multipart([(b"file", filename, image)])
        )
        response = post_raw(server, path, body, user=user)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            continue  # refusing a name that breaks the multipart framing is fine too
        stored = response.json()["data"]["uploadMeImage"] if path == "/graphql" else response.json()
        if stored.get("__typename", "MeImage") != "MeImage":
            # A name with CR LF ends the part's headers early: the bytes are no image then.
            assert stored["code"] == "UNSUPPORTED_MEDIA_TYPE", stored
            continue
        # The upload still behaves: a real image under a name the server chose.
        assert SEALED_NAME.match(stored["storagePath"]), stored
        with server.client() as http:
            fetched = http.get(stored["publicUrl"])
        assert fetched.status_code == 200
        assert decode(fetched.content).size == (64 + len(filename) % 50, 48)
        # Downloads are named by the server, never by the uploader.
        disposition = fetched.headers.get("content-disposition", "")
        assert len(filename) < 4 or filename.decode(errors="ignore") not in disposition
    # Nothing was written under a name the client chose, anywhere the server writes.
    for root in (server.live.data_dir, server.tmp_dir):
        for written in root.rglob("*"):
            assert not any(
                part in written.name for part in ("passwd", "win.ini", ".php", "script", "exe")
            ), written
    assert no_temp_files_left(server) == []
