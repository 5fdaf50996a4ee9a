"""GUI test fixtures: a real daemon subprocess on an ipc path under tmp, and the UI process runner.

The UI renders offscreen: SDL's ``offscreen`` video driver and Mesa's software
OpenGL (llvmpipe), no X server. Kivy gets a private KIVY_HOME and never parses
argv or logs to the console. The daemon runs with ``--backend none``, so a
miss is an error, never a model load.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batos_core.daemon_config import DaemonConfig
from batos_core.protocol import builders
from batos_core.protocol.client import Client

REPO = Path(__file__).resolve().parents[2]
RUN_DAEMON = Path(__file__).with_name("run_daemon.py")
READY_TIMEOUT_S = 60.0
UI_TIMEOUT_S = 120.0


@dataclass
class RunningDaemon:
    image: Path
    runtime_dir: Path
    proc: subprocess.Popen[bytes]

    @property
    def connection_file(self) -> Path:
        return DaemonConfig(image=str(self.image), runtime_dir=self.runtime_dir).connection_path()

    def request(self, message: Any) -> dict[str, Any]:
        with Client.from_connection_file(self.connection_file, timeout=10, retries=0) as client:
            return client.request(message)

    def install_ui(self, source: str, target: str = "genesis") -> None:
        reply = self.request(builders.create_method_request(target, "display_yourself", source))
        assert reply["type"] == "create_method_reply", reply

    def state(self, target: str = "genesis") -> dict[str, Any]:
        reply = self.request(builders.get_full_state_request(target))
        assert reply["type"] == "get_full_state_reply", reply
        return dict(reply["state"])


def offscreen_env(tmp: Path) -> dict[str, str]:
    """The environment of a UI process that renders without a display."""
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env.update(
        SDL_VIDEODRIVER="offscreen",
        LIBGL_ALWAYS_SOFTWARE="1",
        KIVY_NO_ARGS="1",
        KIVY_NO_CONSOLELOG="1",
        KIVY_HOME=str(tmp / "kivy-home"),
        BATOS_STATE_DIR=str(tmp / "state"),
        BATOS_BACKEND="none",
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """A real daemon for this module's tests, stopped (shutdown request) at the end."""
    base = tmp_path_factory.mktemp("gui")
    runtime_dir = tmp_path_factory.mktemp("run")  # short: an ipc path has at most 103 bytes
    runtime_dir.chmod(0o700)
    image = base / "image.fs"
    read_end, write_end = os.pipe()
    command = [sys.executable, str(RUN_DAEMON), "--image", str(image), "--runtime-dir", str(runtime_dir)]
    command += ["--backend", "none", "--workers", "2", "--ready-fd", str(write_end)]
    command += ["--log-file", str(base / "daemon.log")]
    proc = subprocess.Popen(command, pass_fds=(write_end,), env=offscreen_env(base), cwd=REPO)
    os.close(write_end)
    try:
        line = _ready_line(read_end)
    finally:
        os.close(read_end)
    if not line.startswith("ready"):
        proc.kill()
        proc.wait()
        pytest.fail(f"the daemon did not start: {line!r}; log: {base / 'daemon.log'}")
    running = RunningDaemon(image, runtime_dir, proc)
    try:
        yield running
    finally:
        try:
            running.request(builders.shutdown_request())
            proc.wait(timeout=30)
        except Exception:
            proc.kill()
            proc.wait()


def _ready_line(fd: int) -> str:
    # The daemon closes its end after writing one line: read to EOF.
    deadline = time.monotonic() + READY_TIMEOUT_S
    data = b""
    while b"\n" not in data and (remaining := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def run_ui(
    daemon: RunningDaemon, tmp: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m batos_core.gui`` against ``daemon``; returns the finished process."""
    command = [sys.executable, "-m", "batos_core.gui", "--connection-file", str(daemon.connection_file)]
    return subprocess.run(
        [*command, *args],
        env=env or offscreen_env(tmp),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=UI_TIMEOUT_S,
        check=False,
    )
