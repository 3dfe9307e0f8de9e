"""What the observability tests share: scraping and parsing `/metrics`, and a server run
in this process (uvicorn on loopback) whose spans land in an in-memory exporter."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.auth import issue_token
from api.observability.logs import JsonFormatter
from api.observability.tracing import REQUEST_ID_ATTRIBUTE
from api.settings import Settings
from tests.support.provider_server import OPENAI_KEY as OPENAI_KEY
from tests.support.provider_server import ProviderServer

METRICS_TOKEN = "metrics-token-for-tests"
START_TIMEOUT_S = 60.0
SPAN_POLLS = 800


@dataclass
class Samples:
    """One scrape: (name, labels) -> value, as the client library's parser read it."""

    values: dict[tuple[str, frozenset[tuple[str, str]]], float] = field(default_factory=dict)
    text: str = ""

    def get(self, name: str, **labels: str) -> float:
        """The sample's value, or the sum over samples whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.values.items() if n == name and wanted <= ls)

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(ls)[label] for (n, ls) in self.values if n == name and label in dict(ls)}


def parse(text: str) -> Samples:
    samples = Samples(text=text)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            samples.values[key] = sample.value
    return samples


async def scrape(http: httpx.AsyncClient, base_url: str, token: str = METRICS_TOKEN) -> Samples:
    response = await http.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@dataclass
class InProcessServer:
    """The real app under uvicorn on 127.0.0.1, in this process: its spans go to `spans`,
    its log lines (JSON, INFO and up) to `log_text()`."""

    url: str
    settings: Settings
    exporter: InMemorySpanExporter
    log: io.StringIO

    def token(self, user: str) -> str:
        return issue_token(self.settings, user, ttl_s=3600)

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    async def server_span(self, request_id: str) -> ReadableSpan:
        """The server span of a request, once it has ended: a client may read the response
        a moment before the server closes the span (bounded wait on that event)."""
        for _ in range(SPAN_POLLS):
            for span in self.spans():
                if (span.attributes or {}).get(REQUEST_ID_ATTRIBUTE) == request_id:
                    return span
            await asyncio.sleep(0.025)
        raise AssertionError(f"no server span for request {request_id}")

    def log_text(self) -> str:
        return self.log.getvalue()


@contextmanager
def _captured_logs() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    # The server's lines only: not the test's own (its httpx client logs every URL it calls).
    tests_thread = threading.get_ident()
    handler.addFilter(lambda record: record.thread != tests_thread)
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


@asynccontextmanager
async def in_process_server(settings: Settings) -> AsyncIterator[InProcessServer]:
    settings = settings.with_local_secrets()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings, tracer_provider=provider)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # As `meimages serve` runs it: forwarded headers are the app's business, not uvicorn's.
    config = uvicorn.Config(
        app, log_config=None, access_log=False, proxy_headers=False, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    with _captured_logs() as log:
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                while not server.started:
                    if not thread.is_alive():
                        raise RuntimeError("the in-process server did not start")
                    await asyncio.sleep(0.02)
            yield InProcessServer(f"http://127.0.0.1:{port}", settings, exporter, log)
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 20)
            sock.close()
            # The httpx instrumentation patches the class for the whole process: undo it.
            HTTPXClientInstrumentor().uninstrument()


def in_process_settings(tmp: Path, provider: ProviderServer, **changes: object) -> Settings:
    return Settings(
        data_dir=tmp,
        metrics_token=METRICS_TOKEN,
        openai_api_key=OPENAI_KEY,
        openai_base_url=provider.url,
        initial_credits=1000,
        generation_timeout_s=30.0,
        **changes,  # type: ignore[arg-type]
    )
