"""A ComfyUI engine the operator runs: the API as its own server.py speaks it.

One generation is one job:
1. open `/ws?clientId=<fresh id>` first, so no message of the job can be missed;
2. upload each reference (and the mask) with `POST /upload/image` into the input
   subfolder `meimages`, under random names that carry nothing about the person;
3. queue the filled-in workflow with `POST /prompt` and the client id; `node_errors`
   in the answer fail the call (and take the prompt off the queue if it was queued);
4. follow the job on the WebSocket (`progress`, `executing`, `executed`,
   `execution_error`, `execution_interrupted`) until `executing` with node null - sent
   after the history is written; if the socket drops, poll `GET /history/{prompt_id}`
   and `GET /queue` (a job in neither was lost: the engine restarted);
5. read the output images (type "output") with `GET /view`.
Past the engine's timeout the job is interrupted (`POST /interrupt` with its prompt id)
and removed from the queue (`POST /queue` with `delete`); the same happens when the
call is cancelled. No detail of the engine's free text (exception messages, tracebacks)
is passed on: it can quote the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from resolvers.config.generation import ComfyUIEngine, GenerationConfig
from resolvers.config.workflows import Workflow
from resolvers.generation.errors import ProviderFailed
from resolvers.generation.pricing import Size
from resolvers.generation.providers import (
    ImageRequest,
    ProviderImages,
    Reply,
    http_client,
    post,
    safe_token,
)

log = logging.getLogger("meimages.generation.comfyui")

NAME = "comfyui"
# Everything this server uploads goes into this subfolder of ComfyUI's input folder.
SUBFOLDER = "meimages"
DIMENSIONS = {
    Size.SQUARE: (1024, 1024),
    Size.LANDSCAPE: (1536, 1024),
    Size.PORTRAIT: (1024, 1536),
    Size.AUTO: (1024, 1024),
}
# Preview frames can come over the socket as binary messages; they are skipped.
_WS_MAX_MESSAGE = 32 * 1024 * 1024
# Interrupting and dequeueing a job that timed out: short, best effort.
_CANCEL_TIMEOUT_S = 10.0


class _Lost(Exception):
    """The WebSocket went away; the outcome is polled instead."""


class _Unreachable(ProviderFailed):
    """No connection to the engine (down, or restarting)."""


class ComfyUIProvider:
    name = NAME

    def __init__(self, engine: ComfyUIEngine, config: GenerationConfig) -> None:
        self.engine = engine
        self.config = config
        self.workflows: Mapping[str, Workflow] = {w.model_id: w for w in config.workflows}

    def accepts_mask(self, model: str) -> bool:
        workflow = self.workflows.get(model)
        return workflow is not None and workflow.takes_mask

    def _workflow(self, model: str) -> Workflow:
        workflow = self.workflows.get(model)
        if workflow is None:
            raise ProviderFailed(NAME, "the workflow of this model is no longer configured")
        return workflow

    async def generate(self, request: ImageRequest) -> ProviderImages:
        workflow = self._workflow(request.model.id)
        if request.mask is not None and not workflow.takes_mask:
            raise ProviderFailed(NAME, "this workflow takes no mask")
        if request.mask is None and workflow.takes_mask:
            raise ProviderFailed(NAME, "this workflow needs a mask")
        client_id = uuid.uuid4().hex
        async with http_client(self.config) as client, self._socket(client_id) as ws:
            job = secrets.token_hex(12)
            names = [
                await self._upload(client, f"meimages-{job}-{i}.png", png)
                for i, png in enumerate(request.references, start=1)
            ]
            mask = (
                await self._upload(client, f"meimages-{job}-mask.png", request.mask)
                if request.mask is not None
                else None
            )
            width, height = DIMENSIONS[request.size]
            try:
                graph = workflow.fill(
                    prompt=request.prompt,
                    references=names,
                    mask=mask,
                    seed=secrets.randbelow(2**32),
                    width=width,
                    height=height,
                    batch_size=request.n,
                )
            except ValueError as exc:
                raise ProviderFailed(NAME, str(exc)) from None
            prompt_id = await self._queue(client, graph, client_id)
            try:
                async with asyncio.timeout(self.engine.timeout_s):
                    outputs = await self._outcome(client, ws, prompt_id)
                    images = [await self._view(client, ref) for ref in outputs[: request.n]]
            except TimeoutError:
                await self._cancel(client, prompt_id)
                raise ProviderFailed(
                    NAME,
                    f"no result within {self.engine.timeout_s:g} s; the job was interrupted "
                    "and taken off the queue",
                ) from None
            except asyncio.CancelledError:
                await asyncio.shield(self._cancel(client, prompt_id))
                raise
            finally:
                # The history holds the whole graph, prompt included, until the engine
                # restarts: drop this job's entry once its outcome is known.
                if not _cancelled():
                    await self._forget(client, prompt_id)
        if not images:
            raise ProviderFailed(NAME, "the workflow produced no output image")
        return ProviderImages(images=images, model_used=workflow.model_id)

    # The WebSocket -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _socket(self, client_id: str) -> Any:
        url = self.engine.ws_url(f"/ws?clientId={client_id}")
        try:
            ws = await connect(
                url,
                open_timeout=self.config.connect_timeout_s,
                max_size=_WS_MAX_MESSAGE,
                compression=None,
                proxy=None,
            )
        except InvalidHandshake:
            # Something answers HTTP but not the socket (a proxy): follow by polling.
            log.warning("ComfyUI WebSocket refused; following jobs by polling the history")
            yield None
            return
        except (OSError, TimeoutError, InvalidURI) as exc:
            raise ProviderFailed(
                NAME, f"could not reach the engine ({type(exc).__name__})"
            ) from None
        try:
            yield ws
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _outcome(
        self, client: httpx.AsyncClient, ws: ClientConnection | None, prompt_id: str
    ) -> list[dict[str, str]]:
        """The job's output images, once it has finished."""
        executed: list[dict[str, Any]] = []
        if ws is not None:
            try:
                await self._follow(ws, prompt_id, executed)
            except _Lost:
                log.info("ComfyUI WebSocket closed during job %s; polling its history", prompt_id)
            else:
                entry = await self._history(client, prompt_id)
                if entry is not None:
                    return _images(entry.get("outputs"))
                # Done, but no history (cleared in between): what the socket reported.
                return _images({str(i): o for i, o in enumerate(executed)})
        return await self._poll(client, prompt_id)

    async def _follow(
        self, ws: ClientConnection, prompt_id: str, executed: list[dict[str, Any]]
    ) -> None:
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed:
                raise _Lost() from None
            if isinstance(raw, bytes):
                continue  # a preview frame
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
                continue
            kind, data = message.get("type"), message["data"]
            if data.get("prompt_id") != prompt_id:
                continue
            if kind == "progress":
                log.debug("job %s: %s/%s", prompt_id, data.get("value"), data.get("max"))
            elif kind == "executed" and isinstance(data.get("output"), dict):
                executed.append(data["output"])
            elif kind == "execution_error":
                raise _execution_error(data)
            elif kind == "execution_interrupted":
                raise ProviderFailed(NAME, "the job was interrupted on the engine")
            elif kind == "executing" and data.get("node") is None:
                return  # sent after the history entry was written

    # Plain HTTP ----------------------------------------------------------------

    async def _upload(self, client: httpx.AsyncClient, filename: str, png: bytes) -> str:
        reply = await post(
            client,
            NAME,
            self.engine.url("/upload/image"),
            self.config,
            files={"image": (filename, png, "image/png")},
            data={"type": "input", "subfolder": SUBFOLDER, "overwrite": "true"},
        )
        if reply.status != 200:
            raise _http_failure("the upload", reply)
        body = reply.json(NAME)
        name = body.get("name") if isinstance(body, dict) else None
        subfolder = body.get("subfolder", "") if isinstance(body, dict) else ""
        if not isinstance(name, str) or not name or not isinstance(subfolder, str):
            raise ProviderFailed(NAME, "the upload answer named no file")
        return f"{subfolder}/{name}" if subfolder else name

    async def _queue(self, client: httpx.AsyncClient, graph: dict[str, Any], client_id: str) -> str:
        reply = await post(
            client,
            NAME,
            self.engine.url("/prompt"),
            self.config,
            json={"prompt": graph, "client_id": client_id},
        )
        body: Any = None
        with contextlib.suppress(ProviderFailed):
            body = reply.json(NAME)
        body = body if isinstance(body, dict) else {}
        node_errors = body.get("node_errors")
        prompt_id = body.get("prompt_id")
        if reply.status == 200 and isinstance(prompt_id, str) and prompt_id and not node_errors:
            return prompt_id
        if reply.status == 200 and isinstance(prompt_id, str) and prompt_id:
            # Queued for the outputs that validated; the others would be missing. Not that.
            await self._cancel(client, prompt_id)
        if node_errors or isinstance(body.get("error"), dict):
            raise _refused(body)
        if reply.status == 200:
            raise ProviderFailed(NAME, "the queue answer carried no prompt_id")
        raise _http_failure("queueing the workflow", reply)

    async def _get(self, client: httpx.AsyncClient, path: str, **params: str) -> Reply:
        deadline = self.config.timeout_s + self.config.connect_timeout_s
        try:
            async with (
                asyncio.timeout(deadline),
                client.stream("GET", self.engine.url(path), params=params) as response,
            ):
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > self.config.max_reply_bytes:
                        raise ProviderFailed(NAME, "the reply was larger than allowed")
                    chunks.append(chunk)
                return Reply(response.status_code, b"".join(chunks))
        except httpx.HTTPError as exc:
            raise _Unreachable(NAME, f"could not reach the engine ({type(exc).__name__})") from exc
        except TimeoutError:
            # This request's own deadline, not the job's: told apart from the job timeout.
            raise _Unreachable(NAME, f"no answer within {deadline:g} s") from None

    async def _history(self, client: httpx.AsyncClient, prompt_id: str) -> dict[str, Any] | None:
        reply = await self._get(client, f"/history/{prompt_id}")
        if reply.status != 200:
            raise _http_failure("reading the history", reply)
        body = reply.json(NAME)
        entry = body.get(prompt_id) if isinstance(body, dict) else None
        return entry if isinstance(entry, dict) else None

    async def _poll(self, client: httpx.AsyncClient, prompt_id: str) -> list[dict[str, str]]:
        """Without the socket: history, else the queue, until the job is done or gone."""
        while True:
            try:
                entry = await self._history(client, prompt_id)
                if entry is None and not await self._queued(client, prompt_id):
                    # Re-read: it may have finished between the two requests.
                    entry = await self._history(client, prompt_id)
                    if entry is None:
                        raise ProviderFailed(
                            NAME, "the engine lost the job (it restarted or was cleared)"
                        )
            except _Unreachable:
                entry = None  # restarting: keep asking until the job's timeout
            if entry is not None:
                status = _object(entry.get("status"))
                if status.get("status_str") == "error":
                    raise _from_messages(status.get("messages"))
                if status.get("completed", True):
                    return _images(entry.get("outputs"))
            await asyncio.sleep(self.engine.poll_interval_s)

    async def _queued(self, client: httpx.AsyncClient, prompt_id: str) -> bool:
        reply = await self._get(client, "/queue")
        if reply.status != 200:
            raise _http_failure("reading the queue", reply)
        body = reply.json(NAME)
        if not isinstance(body, dict):
            return False
        items = [*(body.get("queue_running") or []), *(body.get("queue_pending") or [])]
        # Each item is [number, prompt_id, prompt, extra_data, outputs_to_execute].
        return any(isinstance(i, list) and len(i) > 1 and i[1] == prompt_id for i in items)

    async def _view(self, client: httpx.AsyncClient, image: dict[str, str]) -> bytes:
        reply = await self._get(client, "/view", **image)
        if reply.status != 200:
            raise _http_failure("reading an output image", reply)
        return reply.body

    async def _cancel(self, client: httpx.AsyncClient, prompt_id: str) -> None:
        """Interrupt the job if it runs, and take it off the queue if it waits."""
        await self._tell(
            client,
            ("/interrupt", {"prompt_id": prompt_id}),
            ("/queue", {"delete": [prompt_id]}),
        )

    async def _forget(self, client: httpx.AsyncClient, prompt_id: str) -> None:
        await self._tell(client, ("/history", {"delete": [prompt_id]}))

    async def _tell(self, client: httpx.AsyncClient, *calls: tuple[str, dict[str, Any]]) -> None:
        """Best effort: a failure is logged, never raised (the outcome is known already)."""
        for path, body in calls:
            try:
                async with asyncio.timeout(_CANCEL_TIMEOUT_S):
                    await client.post(self.engine.url(path), json=body)
            except (TimeoutError, httpx.HTTPError) as exc:
                log.warning("ComfyUI POST %s failed: %s", path, type(exc).__name__)


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _images(outputs: object) -> list[dict[str, str]]:
    """The saved images of a finished job (type "output"; previews are "temp"), in node order."""
    found: list[dict[str, str]] = []
    if not isinstance(outputs, dict):
        return found
    for _, output in sorted(outputs.items(), key=lambda item: _node_order(item[0])):
        images = output.get("images") if isinstance(output, dict) else None
        for image in images if isinstance(images, list) else []:
            if not isinstance(image, dict) or image.get("type") != "output":
                continue
            filename, subfolder = image.get("filename"), image.get("subfolder", "")
            if isinstance(filename, str) and filename and isinstance(subfolder, str):
                found.append({"filename": filename, "subfolder": subfolder, "type": "output"})
    return found


def _node_order(node_id: str) -> tuple[int, str]:
    return (int(node_id), "") if node_id.isdigit() else (1 << 62, node_id)


def _execution_error(data: Mapping[str, Any]) -> ProviderFailed:
    node = safe_token(data.get("node_id"))
    node_type = safe_token(data.get("node_type"))
    exception = safe_token(data.get("exception_type"))
    where = f" at node {node}" + (f" ({node_type})" if node_type else "") if node else ""
    return ProviderFailed(
        NAME, f"the workflow failed{where}" + (f": {exception}" if exception else "")
    )


def _from_messages(messages: object) -> ProviderFailed:
    for item in messages if isinstance(messages, list) else []:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict):
            if item[0] == "execution_error":
                return _execution_error(item[1])
            if item[0] == "execution_interrupted":
                return ProviderFailed(NAME, "the job was interrupted on the engine")
    return ProviderFailed(NAME, "the workflow failed")


def _refused(body: Mapping[str, Any]) -> ProviderFailed:
    """`node_errors` (and `error`) of a refused queue request, as error types only."""
    error = _object(body.get("error"))
    parts = [safe_token(error.get("type")) or "invalid workflow"]
    node_errors = body.get("node_errors")
    for node_id, problem in (node_errors if isinstance(node_errors, dict) else {}).items():
        if len(parts) > 3:
            break
        if not isinstance(problem, dict):
            continue
        errors = _list(problem.get("errors"))
        kinds = sorted(
            {t for e in errors if isinstance(e, dict) and (t := safe_token(e.get("type")))}
        )
        cls = safe_token(problem.get("class_type"))
        node = safe_token(node_id) or "?"
        parts.append(
            f"node {node}"
            + (f" ({cls})" if cls else "")
            + (f": {', '.join(kinds)}" if kinds else "")
        )
    return ProviderFailed(NAME, "the engine refused the workflow: " + "; ".join(parts))


def _http_failure(what: str, reply: Reply) -> ProviderFailed:
    return ProviderFailed(NAME, f"{what} failed with HTTP {reply.status}")
