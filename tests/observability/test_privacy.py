"""No token, key, prompt, label, tag, file name or image byte in any metric, span or log line.

Canaries go in through every door they can take (multipart upload, JSON variables, inline
literals, GraphQL over GET, a refused variable, a bad token, a generation); then every
byte the server exported is searched: the Prometheus text, every span as JSON (attributes,
events, resource) and every log line.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx

from testbed.graphql import PREFLIGHT, upload_form
from testbed.images import jpeg_with_exif
from tests.observability.conftest import (
    OPENAI_KEY,
    in_process_server,
    in_process_settings,
    scrape,
)
from tests.support.provider_server import ProviderServer

PROMPT = "prompt-canary-Zq81"
LABEL = "label-canary-Wp27"
LABEL_INLINE = "inline-label-canary-Hc63"
TAG = "tag-canary-Rx55"
FILE_NAME = "filename-canary-Tk90.jpg"
EXIF = "exif-canary-Mn44"
BAD_TOKEN = "token-canary-Jf12"


async def test_no_canary_reaches_metrics_spans_or_logs(
    tmp_path: Path, provider_server: ProviderServer
) -> None:
    provider_server.reset()
    photo = jpeg_with_exif(EXIF)
    settings = in_process_settings(tmp_path, provider_server, log_format="json")
    async with in_process_server(settings) as server:
        token = server.token("privacy-owner")
        headers = {"Authorization": f"Bearer {token}"}
        graphql = f"{server.url}/graphql"
        async with httpx.AsyncClient(timeout=60) as http:
            form = upload_form(
                photo, filename=FILE_NAME, input={"label": LABEL, "tags": [TAG], "kind": "FACE"}
            )
            upload = await http.post(graphql, headers={**headers, **PREFLIGHT}, **form)
            image = upload.json()["data"]["uploadMeImage"]
            assert image["label"] == LABEL, image
            image_id = image["id"]

            async def call(query: str, variables: dict[str, object] | None = None) -> dict:  # type: ignore[type-arg]
                answer = await http.post(
                    graphql, headers=headers, json={"query": query, "variables": variables or {}}
                )
                body: dict = answer.json()  # type: ignore[type-arg]
                return body

            await call(
                "mutation($id: ID!) { setAiReferenceEnabled(id: $id, enabled: true) { __typename } }",
                {"id": image_id},
            )
            inline = await call(
                'mutation($id: ID!) { updateMeImage(id: $id, input: {label: "LABEL", tags: ["TAG"]})'
                " { __typename } }".replace("LABEL", LABEL_INLINE).replace("TAG", TAG),
                {"id": image_id},
            )
            assert inline["data"]["updateMeImage"]["__typename"] == "MeImage", inline
            # A refused variable: the value must not be quoted into a log line.
            refused = await call(
                "query($id: ID!) { meImage(id: $id) { id } }", {"id": {"label": LABEL}}
            )
            assert "errors" in refused
            # GraphQL over GET: the variables ride in the URL's query string.
            over_get = await http.get(
                graphql,
                headers={**headers, **PREFLIGHT},
                params={
                    "query": "query($id: ID!) { meImage(id: $id) { id label } }",
                    "variables": json.dumps({"id": LABEL}),
                },
            )
            assert over_get.status_code == 200, over_get.text
            generated = await call(
                "mutation($input: GenerationInput!) { generateWithReference(input: $input)"
                " { __typename ... on Generation { status } } }",
                {"input": {"prompt": PROMPT, "referenceImageIds": [image_id]}},
            )
            assert generated["data"]["generateWithReference"]["__typename"] == "Generation"
            media = await http.get(
                server.url + image["publicUrl"].removeprefix(server.url), headers=headers
            )
            assert media.status_code == 200
            refused_token = await http.post(
                graphql,
                headers={"Authorization": f"Bearer {BAD_TOKEN}"},
                json={"query": "{ meImages { id } }"},
            )
            assert refused_token.status_code == 401
            metrics = await scrape(http, server.url)
        spans = "\n".join(span.to_json() for span in server.spans())
        logs = server.log_text()

    # The checks would prove nothing if nothing had been exported.
    assert metrics.get("meimages_uploads_total") == 1
    assert metrics.get("meimages_generations_total", outcome="succeeded") == 1
    assert "GraphQL" in spans and "db.system" in spans
    assert "meimages.access" in logs and "privacy-owner" not in logs
    exported = {"metrics": metrics.text, "spans": spans, "logs": logs}
    middle = photo[len(photo) // 2 : len(photo) // 2 + 24]
    canaries = {
        "token": token,
        "token signature": token.rsplit(".", 1)[-1],
        "bad token": BAD_TOKEN,
        "key": OPENAI_KEY,
        "prompt": PROMPT,
        "label": LABEL,
        "inline label": LABEL_INLINE,
        "tag": TAG,
        "file name": FILE_NAME.removesuffix(".jpg"),
        "exif": EXIF,
        "image bytes (base64)": base64.b64encode(middle).decode(),
        "image bytes (hex)": middle.hex(),
        "image bytes (raw)": middle.decode("latin1"),
    }
    leaks = [
        f"{what} in {where}"
        for what, canary in canaries.items()
        for where, text in exported.items()
        if canary in text
    ]
    assert not leaks, (leaks, [line for line in spans.splitlines() if LABEL in line])
