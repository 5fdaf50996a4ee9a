"""`batos repl` in a real terminal (tmux): what a person sees after typing a message."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batos_core.protocol.builders import inspect_request

from .conftest import RunningDaemon

BATOS = str(Path(sys.executable).parent / "batos")

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed (.ci/run installs it); needed for a real terminal",
)


class Tmux:
    """One private tmux server (its own socket) running one window."""

    def __init__(self, command: str) -> None:
        self.socket = f"batos-test-{uuid.uuid4().hex[:8]}"
        self._tmux("new-session", "-d", "-x", "100", "-y", "30", "-s", "repl", command)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "repl")

    def send(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "repl", *keys)

    def wait_for(self, seen: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if seen(screen):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"not seen within {timeout} s; the screen shows:\n{self.screen()}")

    def wait_until_gone(self, timeout: float = 10.0) -> None:
        """Wait for the window's program to exit (tmux then ends the session)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["tmux", "-L", self.socket, "has-session"], capture_output=True, timeout=10
            )
            if probe.returncode != 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"still running after {timeout} s:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


def test_a_person_sees_the_prompt_and_a_result(daemon: RunningDaemon, tmp_path: Path) -> None:
    environ = {**daemon.environ, "BATOS_STATE_DIR": str(tmp_path), "TERM": "xterm-256color"}
    command = "env " + " ".join(f"{k}={shlex.quote(v)}" for k, v in environ.items()) + f" {BATOS} repl"
    tmux = Tmux(command)
    try:
        tmux.wait_for(lambda s: s.rstrip().endswith("batos>"))
        tmux.send("6 * 7", "Enter")
        # The result, then the next prompt (drawn a moment later: wait for both).
        screen = tmux.wait_for(lambda s: "42" in s.split() and s.rstrip().endswith("batos>"))
        lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
        assert lines[:3] == ["batos> 6 * 7", "42", "batos>"]
        assert "6 * 7" in (tmp_path / "repl_history").read_text()
        tmux.send("C-d")
        tmux.wait_until_gone()
    finally:
        tmux.kill()


def test_ctrl_c_during_a_generation_cancels_it_in_the_daemon(daemon_factory: Any, batos_dirs: Any) -> None:
    # A scripted model that needs ~6 s for its reply (0.05 s a word).
    greet = "def greet_(self, name):\n    return f'Hello, {name}!'\n"
    script = batos_dirs.root / "script.json"
    reply = f"```python\n{greet}```\n" + " and more words" * 40
    script.write_text(json.dumps({"replies": [reply], "seconds_per_piece": 0.05}))
    running = daemon_factory(
        extra_args=["--backend", "scripted", "--model", str(script), "--candidates", "1"]
    )
    environ = {k: v for k, v in batos_dirs.env().items() if k.startswith("BATOS_")}
    environ["TERM"] = "xterm-256color"
    command = "env " + " ".join(f"{k}={shlex.quote(v)}" for k, v in environ.items()) + f" {BATOS} repl"
    tmux = Tmux(command)
    try:
        tmux.wait_for(lambda s: s.rstrip().endswith("batos>"))
        tmux.send("genesis greet: 'Ada'", "Enter")
        tmux.wait_for(lambda s: "generating" in s and "tokens" in s)
        tmux.send("C-c")
        screen = tmux.wait_for(lambda s: "cancelled" in s and s.rstrip().endswith("batos>"), timeout=10)
        assert "nothing it did is kept" in screen, screen
        tmux.send("C-d")
        tmux.wait_until_gone()
    finally:
        tmux.kill()
    # The daemon stopped generating: the method was never installed.
    inspected = running.client().request(inspect_request("genesis"))
    assert "greet_" not in [slot["name"] for slot in inspected["slots"]]
