"""Helpers for the world tests: free loopback ports, `batos` as a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

#: The console script's code, without depending on where .venv/bin is.
BATOS = [sys.executable, "-m", "batos_cli.main"]

Batos = Callable[..., "subprocess.CompletedProcess[str]"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def batos_runner(dirs: Any) -> Batos:
    """`run(*args, env=None)`: `batos *args` in `dirs`' environment (plus `env`), output as text."""

    def run(*args: str, env: Mapping[str, str] | None = None, timeout: float = 90.0) -> Any:
        return subprocess.run(
            [*BATOS, *args], env=dirs.env(env), capture_output=True, text=True, timeout=timeout
        )

    return run
