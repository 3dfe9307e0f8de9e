"""A stand-in ComfyUI engine on loopback, with the routes and message shapes of ComfyUI's
own server.py and execution.py: `POST /upload/image`, `POST /prompt` (with `client_id`
and `node_errors`), `/ws?clientId=` (`status`, `execution_start`, `executing`,
`progress`, `executed`, `execution_success`, `execution_error`, `execution_interrupted`),
`GET /history/{prompt_id}`, `GET /queue`, `POST /queue` (`delete`), `POST /interrupt`
and `GET /view`. One worker runs the queue, one job at a time, like ComfyUI's.

It records everything it receives, checks each upload like the provider stand-in does,
and answers with real PNGs. Tests steer it with `mode`, `hold()` / `release()` (a job
waits at its sampler until released or interrupted) and `pause()` (jobs stay queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.support.loopback import Gate, LoopbackServer
from tests.support.provider_server import check_png, make_png

# Safety net only: a held job is let go (or interrupted) by the test long before this.
HOLD_LIMIT_S = 60.0
IMAGE_INPUTS = ("image",)


class Mode:
    OK = "ok"
    NODE_ERRORS = "node-errors"  # the queue answer refuses the graph (400, node_errors)
    EXECUTION_ERROR = "execution-error"  # a node raises while the job runs
    RESTART = "restart"  # the engine restarts mid-job: sockets drop, queue and history gone
    NO_SOCKET = "no-socket"  # /ws closes right after the status message


@dataclass
class Upload:
    filename: str
    subfolder: str
    kind: str
    data: bytes
    problems: list[str] = field(default_factory=list)


@dataclass
class Job:
    number: int
    prompt_id: str
    graph: dict[str, Any]
    client_id: str
    interrupted: bool = False


class ComfyUIEngine:
    def __init__(self) -> None:
        self.mode = Mode.OK
        self._lock = threading.Lock()
        self.uploads: list[Upload] = []
        self.prompts: list[Job] = []
        self.interrupts: list[dict[str, Any]] = []
        self.deletes: list[str] = []
        self.forgotten: list[str] = []  # history entries deleted (POST /history)
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.connected: list[str] = []  # the clientId of each WebSocket, in order
        self.files: dict[tuple[str, str, str], bytes] = {}  # (type, subfolder, name)
        self.history: dict[str, dict[str, Any]] = {}
        self.pending: list[Job] = []
        self.running: Job | None = None
        self.sockets: dict[str, WebSocket] = {}
        self._gate = Gate()
        self.held = self._gate.held
        self.queued = threading.Event()
        self._paused = False
        self._number = 0
        self._seed = 100
        self._http = LoopbackServer("the stand-in engine")

    # Control, from the tests ---------------------------------------------------

    @property
    def url(self) -> str:
        return self._http.url

    def reset(self) -> None:
        self.release()
        with self._lock:
            self.uploads.clear()
            self.prompts.clear()
            self.interrupts.clear()
            self.deletes.clear()
            self.forgotten.clear()
            self.messages.clear()
            self.connected.clear()
            self.files.clear()
            self.history.clear()
            self.pending.clear()
        self.mode = Mode.OK
        self._paused = False
        self.held.clear()
        self.queued.clear()

    def hold(self) -> None:
        """A job that starts waits at its sampler until `release()` or an interrupt."""
        self._gate.hold()

    def release(self) -> None:
        self._gate.release()

    def pause(self) -> None:
        """Queued jobs stay queued (another user's long job is running, say)."""
        self._paused = True

    async def wait_until(self, event: threading.Event, timeout_s: float = 30.0) -> None:
        if not await asyncio.to_thread(event.wait, timeout_s):
            raise TimeoutError("the engine did not get there")

    def start(self) -> None:
        self._http.start(self.app(), ws="websockets-sansio")

    def stop(self) -> None:
        self.release()
        self._http.stop()

    # The HTTP side ---------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/upload/image", self.upload_image, methods=["POST"]),
                Route("/prompt", self.post_prompt, methods=["POST"]),
                Route("/history/{prompt_id}", self.get_history, methods=["GET"]),
                Route("/queue", self.get_queue, methods=["GET"]),
                Route("/queue", self.post_queue, methods=["POST"]),
                Route("/interrupt", self.post_interrupt, methods=["POST"]),
                Route("/history", self.post_history, methods=["POST"]),
                Route("/view", self.view, methods=["GET"]),
                WebSocketRoute("/ws", self.websocket),
            ]
        )

    async def upload_image(self, request: Request) -> Response:
        async with request.form(max_files=4, max_fields=8) as form:
            image = form.get("image")
            if not isinstance(image, UploadFile) or not image.filename:
                return Response(status_code=400)
            kind = str(form.get("type") or "input")
            subfolder = str(form.get("subfolder") or "")
            data = await image.read()
        upload = Upload(image.filename, subfolder, kind, data)
        upload.problems = check_png(data, image.filename)
        if image.content_type != "image/png":
            upload.problems.append(f"part type {image.content_type}")
        if ".." in subfolder or subfolder.startswith("/") or "/" in image.filename:
            return Response(status_code=400)
        with self._lock:
            self.uploads.append(upload)
            self.files[(kind, subfolder, image.filename)] = data
        return JSONResponse({"name": image.filename, "subfolder": subfolder, "type": kind})

    def _node_errors(self, graph: dict[str, Any]) -> dict[str, Any]:
        """What ComfyUI's validate_prompt would say of the parts this stand-in knows."""
        errors: dict[str, Any] = {}
        for node_id, node in graph.items():
            problems = []
            for key, value in node.get("inputs", {}).items():
                if isinstance(value, str) and "{{" in value and key != "text":
                    problems.append({"type": "placeholder_left", "message": key})
                if key in IMAGE_INPUTS and isinstance(value, str):
                    subfolder, _, name = value.rpartition("/")
                    if ("input", subfolder, name) not in self.files:
                        problems.append(
                            {
                                "type": "value_not_in_list",
                                "message": "Value not in list",
                                "details": f"image: '{value}' not in []",
                            }
                        )
            if problems:
                errors[node_id] = {
                    "errors": problems,
                    "dependent_outputs": [],
                    "class_type": node.get("class_type"),
                }
        return errors

    async def post_prompt(self, request: Request) -> Response:
        body = await request.json()
        graph = body.get("prompt")
        if not isinstance(graph, dict):
            error = {"type": "no_prompt", "message": "No prompt provided", "details": ""}
            return JSONResponse({"error": error, "node_errors": {}}, status_code=400)
        node_errors = self._node_errors(graph)
        if self.mode == Mode.NODE_ERRORS:
            node_errors["4"] = {
                "errors": [
                    {
                        "type": "value_not_in_list",
                        "message": "Value not in list",
                        "details": "ckpt_name: 'sd_xl_base_1.0.safetensors' not in []",
                        "extra_info": {"input_name": "ckpt_name"},
                    }
                ],
                "dependent_outputs": ["9"],
                "class_type": "CheckpointLoaderSimple",
            }
        job = Job(self._number, str(uuid.uuid4()), graph, str(body.get("client_id", "")))
        self._number += 1
        with self._lock:
            self.prompts.append(job)
        if node_errors:
            error = {
                "type": "prompt_outputs_failed_validation",
                "message": "Prompt outputs failed validation",
                "details": "",
                "extra_info": {},
            }
            return JSONResponse({"error": error, "node_errors": node_errors}, status_code=400)
        with self._lock:
            self.pending.append(job)
        self._start_next()
        self.queued.set()
        return JSONResponse({"prompt_id": job.prompt_id, "number": job.number, "node_errors": {}})

    async def get_history(self, request: Request) -> Response:
        prompt_id = request.path_params["prompt_id"]
        with self._lock:
            entry = self.history.get(prompt_id)
        return JSONResponse({prompt_id: entry} if entry is not None else {})

    def _item(self, job: Job) -> list[Any]:
        return [job.number, job.prompt_id, job.graph, {"client_id": job.client_id}, ["9"]]

    async def get_queue(self, request: Request) -> Response:
        with self._lock:
            running = [self._item(self.running)] if self.running else []
            pending = [self._item(j) for j in self.pending]
        return JSONResponse({"queue_running": running, "queue_pending": pending})

    async def post_queue(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            for prompt_id in body.get("delete") or []:
                self.deletes.append(prompt_id)
                self.pending = [j for j in self.pending if j.prompt_id != prompt_id]
        return Response(status_code=200)

    async def post_history(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            if body.get("clear"):
                self.history.clear()
            for prompt_id in body.get("delete") or []:
                self.forgotten.append(prompt_id)
                self.history.pop(prompt_id, None)
        return Response(status_code=200)

    async def post_interrupt(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        with self._lock:
            self.interrupts.append(body)
            job = self.running
        if job is not None and body.get("prompt_id") in (None, job.prompt_id):
            job.interrupted = True
            self._gate.open()
        return Response(status_code=200)

    async def view(self, request: Request) -> Response:
        q = request.query_params
        key = (q.get("type", "output"), q.get("subfolder", ""), q.get("filename", ""))
        with self._lock:
            data = self.files.get(key)
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="image/png")

    async def websocket(self, ws: WebSocket) -> None:
        await ws.accept()
        sid = ws.query_params.get("clientId") or uuid.uuid4().hex
        self.sockets[sid] = ws
        with self._lock:
            self.connected.append(sid)
        try:
            status = {"status": {"exec_info": {"queue_remaining": len(self.pending)}}, "sid": sid}
            await ws.send_text(json.dumps({"type": "status", "data": status}))
            if self.mode == Mode.NO_SOCKET:
                await ws.close()
                return
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            if self.sockets.get(sid) is ws:
                del self.sockets[sid]

    # The worker ------------------------------------------------------------------

    def _start_next(self) -> None:
        """Like ComfyUI's worker: the next queued job runs when none does. Called before
        the queue answer is sent, so a job is running by the time its client hears of it."""
        with self._lock:
            if self._paused or self.running is not None or not self.pending:
                return
            job = self.pending.pop(0)
            self.running = job
        asyncio.get_running_loop().create_task(self._run_then_next(job))

    async def _send(self, job: Job, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self.messages.append((kind, data))
        ws = self.sockets.get(job.client_id)
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.send_text(json.dumps({"type": kind, "data": data}))

    async def _run_then_next(self, job: Job) -> None:
        try:
            await self._run(job)
        finally:
            with self._lock:
                self.running = None
            self._start_next()

    def _finish(self, job: Job, status: str, outputs: dict[str, Any], messages: list[Any]) -> None:
        with self._lock:
            self.history[job.prompt_id] = {
                "prompt": self._item(job),
                "outputs": outputs,
                "status": {
                    "status_str": status,
                    "completed": status == "success",
                    "messages": messages,
                },
                "meta": {},
            }

    async def _run(self, job: Job) -> None:
        pid = job.prompt_id
        messages: list[Any] = [["execution_start", {"prompt_id": pid}]]
        await self._send(job, "execution_start", {"prompt_id": pid})
        await self._send(job, "execution_cached", {"nodes": [], "prompt_id": pid})
        sampler = next(
            (n for n, v in job.graph.items() if "sampler" in v.get("class_type", "").lower()),
            next(iter(job.graph)),
        )
        await self._send(
            job, "executing", {"node": sampler, "display_node": sampler, "prompt_id": pid}
        )
        for step in (1, 2):
            await self._send(
                job, "progress", {"value": step, "max": 4, "prompt_id": pid, "node": sampler}
            )
        await self._gate.wait(HOLD_LIMIT_S)
        if job.interrupted:
            data = {"prompt_id": pid, "node_id": sampler, "node_type": "KSampler", "executed": []}
            messages.append(["execution_interrupted", data])
            await self._send(job, "execution_interrupted", data)
            self._finish(job, "error", {}, messages)
            await self._send(job, "executing", {"node": None, "prompt_id": pid})
            return
        if self.mode == Mode.RESTART:
            for ws in list(self.sockets.values()):
                with contextlib.suppress(Exception):
                    await ws.close(code=1012)
            with self._lock:
                self.pending.clear()
                self.history.clear()
            return
        if self.mode == Mode.EXECUTION_ERROR:
            data = {
                "prompt_id": pid,
                "node_id": sampler,
                "node_type": "KSampler",
                "executed": [],
                # Free text that may quote the prompt: it must never reach a client.
                "exception_message": f"CUDA out of memory while sampling {job.graph}",
                "exception_type": "torch.OutOfMemoryError",
                "traceback": ["Traceback (most recent call last):", "..."],
                "current_inputs": {},
                "current_outputs": [],
            }
            messages.append(["execution_error", data])
            await self._send(job, "execution_error", data)
            self._finish(job, "error", {}, messages)
            await self._send(job, "executing", {"node": None, "prompt_id": pid})
            return
        outputs: dict[str, Any] = {}
        for node_id, node in job.graph.items():
            if node.get("class_type") not in ("SaveImage", "PreviewImage"):
                continue
            kind = "output" if node["class_type"] == "SaveImage" else "temp"
            latent = _inputs_with(job.graph, "batch_size")
            batch = int(latent.get("batch_size", 1))
            width, height = int(latent.get("width", 1024)), int(latent.get("height", 1024))
            images = []
            for _i in range(batch):
                self._seed += 1
                name = f"ComfyUI_{self._seed:05d}_.png"
                with self._lock:
                    self.files[(kind, "", name)] = saved_png((width, height), self._seed, job)
                images.append({"filename": name, "subfolder": "", "type": kind})
            outputs[node_id] = {"images": images}
            await self._send(
                job, "executing", {"node": node_id, "display_node": node_id, "prompt_id": pid}
            )
            await self._send(
                job,
                "executed",
                {
                    "node": node_id,
                    "display_node": node_id,
                    "output": {"images": images},
                    "prompt_id": pid,
                },
            )
        messages.append(["execution_success", {"prompt_id": pid}])
        await self._send(job, "execution_success", {"prompt_id": pid})
        self._finish(job, "success", outputs, messages)
        await self._send(job, "executing", {"node": None, "prompt_id": pid})


def saved_png(size: tuple[int, int], seed: int, job: Job) -> bytes:
    """Like SaveImage: the picture with the graph (prompt included) in tEXt chunks."""
    image = Image.open(io.BytesIO(make_png(size, seed)))
    info = PngInfo()
    info.add_text("prompt", json.dumps(job.graph))
    info.add_text("workflow", json.dumps({"nodes": [], "links": []}))
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, compress_level=1)
    return out.getvalue()


def _inputs_with(graph: dict[str, Any], name: str) -> dict[str, Any]:
    for node in graph.values():
        if name in node.get("inputs", {}):
            return dict(node["inputs"])
    return {}
