"""A stand-in image provider on loopback: speaks OpenAI's /v1/images/edits and Gemini's
generateContent, checks everything it receives, records every request, and answers with
real PNGs made by Pillow. Failure modes are switched per test with `mode`.

One server for every test folder: the `provider_server` (session) and `provider` (reset
around each test) fixtures in tests/conftest.py start it with the keys below.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from resolvers.generation.references import png_chunk_types
from tests.support.loopback import Gate, LoopbackServer

# Canary keys: tests assert they never reach a client, a log or a trace.
OPENAI_KEY = "sk-test-0penai-Secret-Canary-7f3a9"
GEMINI_KEY = "AIza-test-Gemini-Secret-Canary-41c2"

OPENAI_FIELDS = {"model", "prompt", "size", "quality", "n"}
OPENAI_MODELS = {"gpt-image-2", "gpt-image-1"}
SIZES = {"1024x1024": (1024, 1024), "1536x1024": (1536, 1024), "1024x1536": (1024, 1536)}
GEMINI_ASPECTS = {"1:1": (1024, 1024), "3:2": (1248, 832), "2:3": (832, 1248)}
# Anything else in a PNG (tEXt, iTXt, zTXt, eXIf, iCCP, pHYs, tIME, ...) is metadata.
PIXEL_CHUNKS = {"IHDR", "IDAT", "IEND"}
# How long "timeout" mode keeps a request open; far beyond the client's timeout.
HANG_S = 20.0
# Safety net only: a held request is let go by the test long before this.
HOLD_LIMIT_S = 60.0


class Mode:
    OK = "ok"
    UNVERIFIED = "unverified"  # gpt-image-2 refused for the organisation, gpt-image-1 fine
    UNVERIFIED_ALL = "unverified-all"
    ERROR_500 = "error-500"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"  # 200 with a body that is not JSON
    NOT_AN_IMAGE = "not-an-image"  # valid JSON, base64 of bytes that are no image
    BLOCKED = "blocked"  # Gemini: a candidate with a safety finish reason and no image


@dataclass
class Received:
    protocol: str  # "openai" or "gemini"
    model: str
    headers: dict[str, str]
    body: bytes
    fields: dict[str, list[str]] = field(default_factory=dict)
    images: list[bytes] = field(default_factory=list)
    # The `mask` part of an OpenAI edit, if one came.
    mask: bytes | None = None
    problems: list[str] = field(default_factory=list)
    gemini: dict[str, Any] = field(default_factory=dict)


def check_png(data: bytes, where: str) -> list[str]:
    """Everything a reference sent to a provider must be: RGB PNG, ≤1024, no metadata."""
    try:
        chunks = png_chunk_types(data)
    except ValueError:
        return [f"{where}: not a PNG"]
    problems = [f"{where}: metadata chunk {c}" for c in chunks if c not in PIXEL_CHUNKS]
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:
        return [*problems, f"{where}: undecodable ({exc})"]
    if img.mode != "RGB":
        problems.append(f"{where}: mode {img.mode}")
    if max(img.size) > 1024:
        problems.append(f"{where}: {img.size} is larger than 1024")
    if img.info:
        problems.append(f"{where}: info {sorted(img.info)}")
    return problems


def check_mask(data: bytes, reference: bytes | None) -> list[str]:
    """A mask must be a PNG with an alpha channel, the first reference's size exactly,
    with some transparent pixel (what may change) and nothing but pixels."""
    try:
        chunks = png_chunk_types(data)
    except ValueError:
        return ["mask: not a PNG"]
    problems = [f"mask: metadata chunk {c}" for c in chunks if c not in PIXEL_CHUNKS]
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:
        return [*problems, f"mask: undecodable ({exc})"]
    if img.mode not in ("RGBA", "LA"):
        return [*problems, f"mask: mode {img.mode} has no alpha"]
    if img.getchannel("A").getextrema()[0] != 0:
        problems.append("mask: no transparent pixel")
    if reference is not None:
        ref_size = Image.open(io.BytesIO(reference)).size
        if img.size != ref_size:
            problems.append(f"mask: {img.size} is not the first reference's {ref_size}")
    return problems


def make_png(size: tuple[int, int], seed: int) -> bytes:
    """A real picture: a colour field with a few shapes, different for each seed."""
    img = Image.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 193) % 256))
    draw = ImageDraw.Draw(img)
    w, h = size
    for i in range(4):
        box = (w * i // 8, h * i // 8, w - w * i // 8, h - h * i // 8)
        draw.ellipse(box, outline=((seed + i * 60) % 256, 255 - i * 40, i * 50), width=9)
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


class ProviderServer:
    def __init__(self, *, openai_key: str, gemini_key: str) -> None:
        self.openai_key = openai_key
        self.gemini_key = gemini_key
        self.mode = Mode.OK
        self.delay_s = 0.0
        # Set to sign each output PNG as providers that attach Content Credentials do
        # (testbed/content_credentials.py makes such a signer with a test certificate).
        self.output_credentials: Callable[[bytes], bytes] | None = None
        # `hold()` keeps valid requests waiting until `release()`; `held` is set once one is.
        self._gate = Gate()
        self.held = self._gate.held
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._seed = 0
        self._http = LoopbackServer("the provider test server")

    # Control, from the tests ---------------------------------------------------

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
        self.mode = Mode.OK
        self.delay_s = 0.0
        self.output_credentials = None
        self.release()

    def hold(self) -> None:
        """Keep every valid request waiting (after it was recorded) until `release()`."""
        self._gate.hold()

    def release(self) -> None:
        self._gate.release()

    async def wait_until_held(self, timeout_s: float = 30.0) -> None:
        """Until a request is waiting at the gate (an observed event, not a delay)."""
        if not await asyncio.to_thread(self.held.wait, timeout_s):
            raise TimeoutError("no request reached the provider")

    def start(self) -> None:
        self._http.start(self.app())

    def stop(self) -> None:
        self._http.stop()

    # The HTTP side ---------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/images/edits", self.openai_edits, methods=["POST"]),
                Route("/v1beta/models/{model_action}", self.gemini_generate, methods=["POST"]),
            ]
        )

    def _record(self, received: Received) -> None:
        with self._lock:
            self._requests.append(received)

    def _next_seed(self) -> int:
        with self._lock:
            self._seed += 1
            return self._seed

    def _output(self, dims: tuple[int, int]) -> bytes:
        png = make_png(dims, self._next_seed())
        sign = self.output_credentials
        return sign(png) if sign is not None else png

    async def _misbehave(self) -> Response | None:
        await self._gate.wait(HOLD_LIMIT_S)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.mode == Mode.TIMEOUT:
            await asyncio.sleep(HANG_S)
        if self.mode == Mode.MALFORMED:
            return PlainTextResponse("<html>upstream proxy error</html>", status_code=200)
        return None

    async def openai_edits(self, request: Request) -> Response:
        body = await request.body()
        received = Received("openai", "", dict(request.headers), body)
        self._record(received)
        # An empty key plays a self-hosted server that needs none.
        if self.openai_key and request.headers.get("authorization") != f"Bearer {self.openai_key}":
            return _openai_error(
                401, f"Incorrect API key provided: {self.openai_key[:6]}***.", "invalid_api_key"
            )
        async with request.form(max_files=32, max_fields=32) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile) and name == "mask":
                    if received.mask is not None:
                        received.problems.append("more than one mask part")
                    if value.content_type != "image/png":
                        received.problems.append(f"mask part type {value.content_type}")
                    received.mask = await value.read()
                elif isinstance(value, UploadFile):
                    if name != "image[]":
                        received.problems.append(f"file field {name!r}")
                    if value.content_type != "image/png":
                        received.problems.append(f"part type {value.content_type}")
                    data = await value.read()
                    received.images.append(data)
                    received.problems += check_png(data, f"image {len(received.images)}")
                else:
                    received.fields.setdefault(name, []).append(value)
        problems = received.problems
        if received.mask is not None:
            problems += check_mask(received.mask, received.images[0] if received.images else None)
        if set(received.fields) != OPENAI_FIELDS:
            problems.append(f"fields {sorted(received.fields)}")
        if any(len(v) != 1 for v in received.fields.values()):
            problems.append("a field was sent twice")
        one = {k: v[0] for k, v in received.fields.items()}
        received.model = one.get("model", "")
        if received.model not in OPENAI_MODELS:
            problems.append(f"model {received.model!r}")
        size = one.get("size", "")
        if size not in (*SIZES, "auto"):
            problems.append(f"size {size!r}")
        if one.get("quality") not in ("low", "medium", "high"):
            problems.append(f"quality {one.get('quality')!r}")
        n = int(one["n"]) if one.get("n", "").isdigit() else 0
        if not 1 <= n <= 4:
            problems.append(f"n {one.get('n')!r}")
        if not 1 <= len(received.images) <= 8:
            problems.append(f"{len(received.images)} images")
        if not one.get("prompt", "").strip():
            problems.append("empty prompt")
        if problems:
            return _openai_error(400, "; ".join(problems), "invalid_value")
        if self.mode == Mode.UNVERIFIED_ALL or (
            self.mode == Mode.UNVERIFIED and received.model == "gpt-image-2"
        ):
            return _openai_error(
                403,
                f"Your organization must be verified to use the model `{received.model}`. "
                "Please go to: https://platform.openai.com/settings/organization/general and "
                "click on Verify Organization.",
                None,
            )
        if self.mode == Mode.ERROR_500:
            return _openai_error(
                500, f"The server had an error (key {self.openai_key}).", None, "server_error"
            )
        if (slow := await self._misbehave()) is not None:
            return slow
        if self.mode == Mode.NOT_AN_IMAGE:
            payload = base64.b64encode(b"GIF89a? not really an image").decode()
            return JSONResponse({"created": int(time.time()), "data": [{"b64_json": payload}]})
        dims = SIZES.get(size, (1024, 1024))
        images = [self._output(dims) for _ in range(n)]
        return JSONResponse(
            {
                "created": int(time.time()),
                "data": [{"b64_json": base64.b64encode(i).decode()} for i in images],
                "usage": {"input_tokens": 100, "output_tokens": 200, "total_tokens": 300},
            }
        )

    async def gemini_generate(self, request: Request) -> Response:
        model, _, action = request.path_params["model_action"].partition(":")
        body = await request.body()
        received = Received("gemini", model, dict(request.headers), body)
        self._record(received)
        if action != "generateContent":
            return _gemini_error(404, "NOT_FOUND")
        if request.headers.get("x-goog-api-key") != self.gemini_key:
            return _gemini_error(400, "INVALID_ARGUMENT")
        problems = received.problems
        try:
            payload = json.loads(body)
            received.gemini = payload
            contents = payload["contents"]
            parts = contents[0]["parts"]
            config = payload["generationConfig"]
        except (ValueError, KeyError, IndexError, TypeError):
            problems.append("malformed request")
            return _gemini_error(400, "INVALID_ARGUMENT")
        if len(contents) != 1:
            problems.append(f"{len(contents)} contents")
        texts = [p["text"] for p in parts if "text" in p]
        if len(texts) != 1 or not texts[0].strip():
            problems.append("exactly one text part expected")
        for part in parts:
            if "inlineData" in part:
                inline = part["inlineData"]
                if inline.get("mimeType") != "image/png":
                    problems.append(f"mimeType {inline.get('mimeType')}")
                data = base64.b64decode(inline.get("data", ""), validate=True)
                received.images.append(data)
                problems += check_png(data, f"image {len(received.images)}")
        if not 1 <= len(received.images) <= 8:
            problems.append(f"{len(received.images)} images")
        # Like the real API: IMAGE alone is refused, TEXT must come with it.
        if sorted(config.get("responseModalities") or []) != ["IMAGE", "TEXT"]:
            problems.append(f"responseModalities {config.get('responseModalities')}")
        image_config = config.get("imageConfig") or {}
        aspect = image_config.get("aspectRatio", "1:1")
        if aspect not in GEMINI_ASPECTS:
            problems.append(f"aspectRatio {aspect}")
        if image_config.get("imageSize") != "1K":
            problems.append(f"imageSize {image_config.get('imageSize')}")
        if problems:
            return _gemini_error(400, "INVALID_ARGUMENT")
        if self.mode == Mode.ERROR_500:
            return _gemini_error(500, "INTERNAL")
        if (slow := await self._misbehave()) is not None:
            return slow
        if self.mode == Mode.BLOCKED:
            return JSONResponse(
                {"candidates": [{"content": {"role": "model"}, "finishReason": "IMAGE_SAFETY"}]}
            )
        image = self._output(GEMINI_ASPECTS[aspect])
        return JSONResponse(
            {
                "candidates": [
                    {
                        "content": {
                            "role": "model",
                            # With TEXT asked for, a text part comes along: it is skipped.
                            "parts": [
                                {"text": "Here is the picture you asked for."},
                                {
                                    "inlineData": {
                                        "mimeType": "image/png",
                                        "data": base64.b64encode(image).decode(),
                                    }
                                },
                            ],
                        },
                        "finishReason": "STOP",
                    }
                ],
                "modelVersion": model,
            }
        )


def _openai_error(
    status: int, message: str, code: str | None, type: str = "invalid_request_error"
) -> Response:
    return JSONResponse(
        {"error": {"message": message, "type": type, "param": None, "code": code}},
        status_code=status,
    )


def _gemini_error(status: int, code: str) -> Response:
    return JSONResponse(
        {"error": {"code": status, "message": f"Request failed: {code}", "status": code}},
        status_code=status,
    )
