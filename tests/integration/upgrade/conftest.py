"""Fixtures for the upgrade tests: the real-daemon fixtures of tests/integration, plus
`batos` as a subprocess, committing load, hand-made wheels and waiting for a pid to go."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from batos_core.protocol.builders import send_request, shutdown_request, status_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import ConnectionInfo, read_connection_file

BATOS = [sys.executable, "-m", "batos_cli.main"]


def run_batos(dirs: Any, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """`batos *args` in the test's private directories (output captured as text)."""
    env = dirs.env()
    env["COLUMNS"] = "200"
    return subprocess.run([*BATOS, *args], env=env, capture_output=True, text=True, timeout=timeout)


def current_info(dirs: Any, daemon: Any) -> ConnectionInfo:
    """The connection file as it is now (after an upgrade it names the successor)."""
    return read_connection_file(daemon.connection_path)


def request(info: ConnectionInfo, message: Any, timeout: float = 30.0) -> dict[str, Any]:
    with Client.from_connection_info(info, timeout=timeout, retries=1) as client:
        return client.request(message)


def stop_and_wait(info: ConnectionInfo, timeout: float = 30.0) -> None:
    """Shut down whichever daemon serves `info`'s endpoint and wait until its pid is gone
    (a successor is not our child, so `wait` cannot be used)."""
    pid = request(info, status_request())["pid"]
    request(info, shutdown_request())
    deadline = time.monotonic() + timeout
    while _alive(pid):
        assert time.monotonic() < deadline, f"daemon {pid} did not stop"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Load:
    """`clients` threads sending `increment` (a committing request) in a loop until stopped."""

    info: ConnectionInfo
    clients: int = 4
    acks: list[float] = field(default_factory=list)  # wall-clock time of every acknowledgement
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for _ in range(self.clients):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self) -> None:
        # A silent 20 s would mean a request was lost and only the timeout saved it.
        with Client.from_connection_info(self.info, timeout=20.0, retries=3) as client:
            while not self._stop.is_set():
                reply = client.request(send_request("genesis", "increment"))
                with self._lock:
                    if reply["type"] == "send_reply":
                        self.acks.append(time.time())
                    else:
                        self.errors.append(str(reply))

    def stop(self) -> int:
        """Stop, join, and return the number of acknowledged increments."""
        self._stop.set()
        for thread in self._threads:
            thread.join(60.0)
            assert not thread.is_alive(), "a load client hung"
        return len(self.acks)

    def longest_gap(self, start: float, end: float) -> float:
        """Longest time without any acknowledgement within [start, end]."""
        times = sorted(t for t in self.acks if start <= t <= end)
        points = [start, *times, end]
        return max(b - a for a, b in itertools.pairwise(points))


@pytest.fixture
def load_factory() -> Iterator[Any]:
    started: list[Load] = []

    def make(info: ConnectionInfo, clients: int = 4) -> Load:
        load = Load(info, clients)
        load.start()
        started.append(load)
        return load

    yield make
    for load in started:
        load._stop.set()


def make_wheel(directory: Path, name: str, init_source: str, version: str = "0.1") -> Path:
    """A pure-Python wheel of package `name` whose ``__init__`` is `init_source`."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": init_source,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: batos-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/top_level.txt": f"{name}\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel
