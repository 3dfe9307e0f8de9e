"""A real GraphQL client (gql) against a real server process on loopback, uploads included."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest
import websockets
import websockets.exceptions
from gql import Client, FileVar, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from testbed.images import decode, jpeg, png
from testbed.server import LiveServer


def client(live_server: LiveServer, user: str, upload: bool = False) -> Client:
    headers = {"Authorization": f"Bearer {live_server.token(user)}"}
    if upload:
        headers["GraphQL-Require-Preflight"] = "1"
    transport = HTTPXAsyncTransport(url=f"{live_server.url}/graphql", headers=headers)
    return Client(transport=transport, fetch_schema_from_transport=True)


UPLOAD = gql(
    """
    mutation Upload($file: Upload!, $input: UploadMeImageInput) {
      uploadMeImage(file: $file, input: $input) {
        __typename
        ... on MeImage { id kind label tags width height publicUrl thumbnailUrl primaryFor usage { aiReference } }
        ... on Error { code message }
      }
    }
    """
)


async def test_gql_client_full_flow(live_server: LiveServer) -> None:
    async with client(live_server, "gql-alice", upload=True) as session:
        # The client validated our documents against the introspected schema.
        assert session.client.schema is not None
        result = await session.execute(
            GraphQLRequest(
                UPLOAD,
                variable_values={
                    "file": FileVar(
                        io.BytesIO(jpeg(51, size=(800, 600))),
                        filename="me.jpg",
                        content_type="image/jpeg",
                    ),
                    "input": {
                        "kind": "FACE",
                        "label": "studio",
                        "tags": ["front"],
                        "primaryFor": "FACE_REF",
                    },
                },
            ),
            upload_files=True,
        )
        image = result["uploadMeImage"]
        assert image["__typename"] == "MeImage"
        assert (image["width"], image["height"]) == (800, 600)
        assert image["usage"]["aiReference"] is False
        bad = await session.execute(
            GraphQLRequest(
                UPLOAD,
                variable_values={
                    "file": FileVar(
                        io.BytesIO(b"<svg/>"), filename="x.jpg", content_type="image/jpeg"
                    )
                },
            ),
            upload_files=True,
        )
        assert bad["uploadMeImage"]["code"] == "UNSUPPORTED_MEDIA_TYPE"

        toggled = await session.execute(
            GraphQLRequest(
                gql(
                    "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { ... on MeImage { usage { aiReference } } } }"
                ),
                variable_values={"id": image["id"]},
            )
        )
        assert toggled["setAiReferenceEnabled"]["usage"]["aiReference"] is True
        second = await session.execute(
            GraphQLRequest(
                UPLOAD,
                variable_values={
                    "file": FileVar(
                        io.BytesIO(png(52)), filename="b.png", content_type="image/png"
                    ),
                    "input": {"kind": "FULLBODY"},
                },
            ),
            upload_files=True,
        )
        await session.execute(
            GraphQLRequest(
                gql("mutation($id: ID!) { setPrimary(id: $id, slot: FACE_REF) { __typename } }"),
                variable_values={"id": second["uploadMeImage"]["id"]},
            )
        )
        listed = await session.execute(
            gql(
                "{ meImages { id primaryFor } referenceImages { id } profile { avatar { id } avatarUrl } }"
            )
        )
        assert {i["id"]: i["primaryFor"] for i in listed["meImages"]} == {
            image["id"]: None,
            second["uploadMeImage"]["id"]: "FACE_REF",
        }
        assert [i["id"] for i in listed["referenceImages"]] == [image["id"]]
        assert listed["profile"]["avatar"] == {"id": second["uploadMeImage"]["id"]}

    # The signed URLs work as plain <img src> fetches, with real images behind them.
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        original = await http.get(image["publicUrl"])
        thumb = await http.get(image["thumbnailUrl"])
    assert decode(original.content).size == (800, 600)
    assert max(decode(thumb.content).size) <= 256

    # Another user sees nothing of it.
    async with client(live_server, "gql-bob") as session:
        theirs = await session.execute(gql("{ meImages { id } }"))
        assert theirs == {"meImages": []}
        got = await session.execute(
            GraphQLRequest(
                gql("query($id: ID!) { meImage(id: $id) { id } }"),
                variable_values={"id": image["id"]},
            )
        )
        assert got == {"meImage": None}


async def test_gql_client_without_token_is_refused(live_server: LiveServer) -> None:
    transport = HTTPXAsyncTransport(url=f"{live_server.url}/graphql")
    with pytest.raises(TransportQueryError) as info:
        async with Client(transport=transport) as session:
            await session.execute(gql("{ meImages { id } }"))
    assert info.value.errors is not None
    assert info.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_cross_origin_websocket_handshake_is_refused(live_server: LiveServer) -> None:
    ws_url = f"ws://127.0.0.1:{live_server.port}/graphql"
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        async with websockets.connect(
            ws_url,
            subprotocols=["graphql-transport-ws"],
            origin="https://evil.example",  # type: ignore[list-item]
        ):
            pass
    assert info.value.response.status_code == 403
    # Same origin (or a non-browser client without Origin) may connect.
    async with websockets.connect(
        ws_url,
        subprotocols=["graphql-transport-ws"],
        origin=f"http://127.0.0.1:{live_server.port}",  # type: ignore[list-item, arg-type]
    ) as ws:
        await ws.send(
            '{"type": "connection_init", "payload": {"Authorization": "Bearer '
            + live_server.token("ws-user")
            + '"}}'
        )
        reply = await asyncio.wait_for(ws.recv(), 60)
        assert "connection_ack" in str(reply)


async def test_websocket_without_valid_token_is_refused(live_server: LiveServer) -> None:
    ws_url = f"ws://127.0.0.1:{live_server.port}/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send('{"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}')
        with pytest.raises(websockets.exceptions.ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 60)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4403


def test_data_dir_holds_db_media_and_0600_secrets(live_server: LiveServer) -> None:
    data: Path = live_server.data_dir
    assert (data / "meimages.db").exists()
    for secret in ("master-keys.json", "secrets.json"):
        assert (data / secret).stat().st_mode & 0o777 == 0o600
