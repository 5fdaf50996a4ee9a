"""llama-cpp-python's own OpenAI-compatible server, run as a subprocess for tests.

``python -m llama_cpp.server`` (its ``server`` extra) serves one GGUF on a
free loopback port. ``LlamaServer.start`` returns once ``GET /v1/models``
answers 200 (polled, bounded) and raises ``LlamaServerError`` with the
server's log when it exits or does not answer in time; ``stop`` ends it.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.1


class LlamaServerError(RuntimeError):
    """The server did not come up; the message ends with its log."""


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class LlamaServer:
    """One running server: its model alias, URL, process and log file."""

    model: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @classmethod
    def start(cls, gguf: Path, model: str, log_path: Path, *, n_ctx: int = 4096) -> LlamaServer:
        """Serve ``gguf`` under the name ``model`` (one thread, a ``n_ctx`` context)."""
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--model_alias",
            model,
            "--host",
            HOST,
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            # One thread: the tiny model is fast enough on one, and llama.cpp's
            # threads wait for each other by spinning, so two on a 2-core
            # machine shared with the daemon and its trials stall each other.
            "--n_threads",
            "1",
            "--verbose",
            "false",
            # A new request would otherwise end the one streaming: a test that
            # cancels sees the server stop because the client hung up, not
            # because the next request came.
            "--interrupt_requests",
            "false",
        ]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = cls(model, port, proc, log_path)
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LlamaServerError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.get("/v1/models")[0] == 200:
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(_POLL_S)
        raise LlamaServerError(f"no answer on {self.base_url} within {READY_TIMEOUT_S} s:\n{self.log()}")

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, Any]:
        """``GET path``: the status and the decoded JSON body (None if not JSON)."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, None

    def log(self) -> str:
        """The last 4000 characters the server wrote."""
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        """End the server: SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
