"""A backend for any OpenAI-compatible chat server (llama.cpp, Ollama, vLLM).

It POSTs to ``<base>/v1/chat/completions`` with ``stream: true`` and reads the
server-sent events line by line with the standard library only, so the
daemon needs no HTTP client dependency. ``cancel`` is checked between
streamed chunks; on cancel the connection is closed, which makes the server
stop generating.

A ``prefill`` is not sent. The chat API has no portable way to continue a
partial assistant reply: llama-server continues a final assistant message,
vLLM only when asked with its own flags, and llama-cpp-python's server (the
one the tests run) closes that message and starts a new turn, so the same
request means different things to different servers and the reply does not
say which happened. The model gets the prompt without it and writes its
whole reply; for ``display_yourself`` vetting accepts the shape chat models
then write (the App class at the top level, ``jit.ui_shape``).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from batos_core.jit.backends.base import (
    BackendError,
    Generation,
    Message,
    TokenCallback,
    check_cancel,
)


class OpenAIBackend:
    """Streams chat completions from an OpenAI-compatible HTTP server."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"not an http(s) base URL: {base_url!r}")
        self.model_id = model
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        base_path = parts.path.rstrip("/")
        # Accept both ``http://host:8080`` and ``http://host:8080/v1``.
        self._path = base_path + ("" if base_path.endswith("/v1") else "/v1") + "/chat/completions"
        self._api_key = api_key
        self._timeout = timeout

    def load(self) -> None:
        """Nothing to load: the server holds the model."""

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
        selector: str | None = None,
        prefill: str = "",
        seed: int | None = None,
    ) -> Generation:
        """Stream one assistant reply from the server; ``prefill`` is ignored
        (see the module docstring), so ``text`` is the whole reply.

        Raises ``BackendError`` for a connection failure, a timeout (no chunk
        within ``timeout`` seconds), a non-200 status (with the server's
        message) or a malformed event; ``GenerationCancelled`` on cancel.
        """
        started = time.perf_counter()
        body = {
            "model": self.model_id,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if seed is not None:
            body["seed"] = seed  # honoured by llama.cpp's and vLLM's servers, ignored by some others
        connection = self._connect()
        response: http.client.HTTPResponse | None = None
        try:
            response = self._post(connection, body)
            text, chunks, usage = "", 0, None
            for event in _events(response):
                check_cancel(cancel, text)
                piece, event_usage = _delta(event)
                usage = event_usage if event_usage is not None else usage
                if piece:
                    chunks += 1
                    text += piece
                    if on_token is not None:
                        on_token(piece)
        except (OSError, http.client.HTTPException) as error:
            raise BackendError(f"{self._host}: {error}") from error
        finally:
            # Closing the response too: with HTTP/1.0 servers it owns the socket.
            if response is not None:
                response.close()
            connection.close()
        tokens = usage if usage is not None else chunks
        return Generation(text, tokens, time.perf_counter() - started, self.model_id, self.name)

    def _connect(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def _post(self, connection: http.client.HTTPConnection, body: dict[str, Any]) -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        connection.request("POST", self._path, body=json.dumps(body).encode(), headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            detail = response.read(2000).decode("utf-8", "replace").strip()
            response.close()
            raise BackendError(f"server answered {response.status} {response.reason}: {detail}")
        return response


def _events(response: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
    """The JSON payloads of the ``data:`` lines, up to ``[DONE]`` or end of stream."""
    while True:
        raw = response.readline()
        if not raw:
            return
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line.startswith("data:"):
            continue  # blank separators, ``:`` keep-alive comments, ``event:`` fields
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except json.JSONDecodeError as error:
            raise BackendError(f"malformed event from server: {payload[:200]!r}") from error
        if not isinstance(event, dict):
            raise BackendError(f"malformed event from server: {payload[:200]!r}")
        if "error" in event:
            raise BackendError(f"server error: {event['error']}")
        yield event


def _delta(event: dict[str, Any]) -> tuple[str, int | None]:
    """The content piece of one chunk and, when present, the completion token count."""
    usage = event.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    choices = event.get("choices") or []
    delta = choices[0].get("delta", {}) if choices and isinstance(choices[0], dict) else {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return (content if isinstance(content, str) else ""), (tokens if isinstance(tokens, int) else None)
