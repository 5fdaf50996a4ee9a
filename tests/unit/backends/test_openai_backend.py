"""The openai backend against a real HTTP server on 127.0.0.1 that streams SSE."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from batos_core.jit.backends import BackendError, GenerationCancelled, make_backend
from batos_core.jit.backends.openai_backend import OpenAIBackend

MESSAGES = [{"role": "user", "content": "factorial:"}]
PIECES = ["def ", "factorial_", "(self, n):\n", "    return 1"]


@dataclass
class FakeServer:
    """What the server was asked and what it should answer."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200
    lines: list[str] = field(default_factory=list)
    # Set by the client side of a cancel test; the server waits on it
    # before sending the rest, so the test does not depend on timing.
    release: threading.Event = field(default_factory=threading.Event)
    hold_after: int | None = None


def chunk(content: str | None = None, usage: int | None = None) -> str:
    event: dict[str, Any] = {"choices": [{"delta": {} if content is None else {"content": content}}]}
    if usage is not None:
        event = {"choices": [], "usage": {"completion_tokens": usage}}
    return "data: " + json.dumps(event)


def stream(pieces: list[str]) -> list[str]:
    lines = [": keep-alive", chunk(None)]
    lines += [chunk(p) for p in pieces]
    return [*lines, "data: [DONE]"]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    state = FakeServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"path": self.path, **json.loads(body)})
            state.headers.append(dict(self.headers))
            self.send_response(state.status)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if state.status != 200:
                self.wfile.write(b'{"error": "model not found"}')
                return
            for index, line in enumerate(state.lines):
                if state.hold_after is not None and index == state.hold_after:
                    state.release.wait(5)
                try:
                    self.wfile.write(f"{line}\n\n".encode())
                    self.wfile.flush()
                except OSError:
                    return  # the client hung up (cancel)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_streams_content_pieces_in_order(server: FakeServer) -> None:
    server.lines = stream(PIECES)
    backend = OpenAIBackend(server.url, "qwen2.5-coder", api_key="sekret")
    pieces: list[str] = []
    generation = backend.generate(MESSAGES, max_new_tokens=64, temperature=0.5, on_token=pieces.append)
    assert pieces == PIECES
    assert generation.text == "".join(PIECES)
    assert generation.tokens == len(PIECES)
    assert (generation.backend, generation.model_id) == ("openai", "qwen2.5-coder")
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["stream"] is True and request["max_tokens"] == 64 and request["temperature"] == 0.5
    assert request["messages"] == MESSAGES and request["model"] == "qwen2.5-coder"
    assert server.headers[0]["Authorization"] == "Bearer sekret"


def test_a_prefill_is_not_sent(server: FakeServer) -> None:
    # No portable chat request continues a partial reply (openai_backend's docstring).
    server.lines = stream(PIECES)
    generation = OpenAIBackend(server.url, "m").generate(MESSAGES, prefill="```python\ndef ")
    assert server.requests[0]["messages"] == MESSAGES
    assert generation.text == "".join(PIECES)


def test_base_url_with_v1_and_reported_usage(server: FakeServer) -> None:
    server.lines = [chunk("x"), chunk("y"), chunk(usage=7), "data: [DONE]"]
    generation = OpenAIBackend(server.url + "/v1/", "m").generate(MESSAGES)
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert "Authorization" not in server.headers[0]
    assert (generation.text, generation.tokens) == ("xy", 7)


def test_http_error_carries_the_server_message(server: FakeServer) -> None:
    server.status = 404
    with pytest.raises(BackendError, match=r"404.*model not found"):
        OpenAIBackend(server.url, "missing").generate(MESSAGES)


def test_malformed_event_is_an_error(server: FakeServer) -> None:
    server.lines = [chunk("ok"), "data: {not json"]
    with pytest.raises(BackendError, match="malformed event"):
        OpenAIBackend(server.url, "m").generate(MESSAGES)


def test_cancel_between_chunks_hangs_up(server: FakeServer) -> None:
    server.lines = stream(PIECES)
    server.hold_after = 3  # keep-alive, role chunk, first piece; then wait
    cancel = threading.Event()
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        cancel.set()
        server.release.set()

    with pytest.raises(GenerationCancelled) as raised:
        OpenAIBackend(server.url, "m").generate(MESSAGES, on_token=on_token, cancel=cancel)
    assert pieces == PIECES[:1]
    assert raised.value.partial == PIECES[0]


def test_unreachable_server_is_a_backend_error() -> None:
    with pytest.raises(BackendError):
        OpenAIBackend("http://127.0.0.1:9", "m", timeout=2).generate(MESSAGES)


def test_make_backend_reads_the_key_from_the_environment(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATOS_TEST_KEY", "from-env")
    server.lines = stream(["ok"])
    backend = make_backend(
        {"backend": "openai", "base_url": server.url, "model": "m", "api_key_env": "BATOS_TEST_KEY"}
    )
    assert backend.generate(MESSAGES).text == "ok"
    assert server.headers[0]["Authorization"] == "Bearer from-env"
    with pytest.raises(BackendError, match="base_url and model"):
        make_backend({"backend": "openai", "model": "m"})
    with pytest.raises(BackendError, match="not an http"):
        make_backend({"backend": "openai", "base_url": "ftp://x", "model": "m"})
