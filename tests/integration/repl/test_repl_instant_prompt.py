"""`batos repl` on a pseudo-terminal: the instant prompt comes first, and what is typed at it runs."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from .conftest import RunningDaemon

BATOS = str(Path(sys.executable).parent / "batos")
CPR_REQUEST = b"\x1b[6n"
ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]")
INSTANT = b"\x1b[1mbatos> \x1b[0m"  # bold, as prompt_toolkit draws it


class PtyRepl:
    """`batos repl` as a child on a pty; `read_until` collects what it draws."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [BATOS, "repl"], stdin=slave, stdout=slave, stderr=slave, env=environ, start_new_session=True
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, marker: bytes, timeout: float = 30.0, *, after: int = 0) -> bytes:
        """All drawn so far, once `marker` shows at or after offset `after`."""
        deadline = time.monotonic() + timeout
        while marker not in self.seen[after:]:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError(f"{marker!r} not drawn within {timeout} s; saw {self.seen[-400:]!r}")
            chunk = os.read(self.master, 65536)
            if CPR_REQUEST in chunk:
                os.write(self.master, b"\x1b[1;1R")  # answer as a terminal does
            self.seen += chunk
        return self.seen

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)


def _environ(daemon: RunningDaemon, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **daemon.environ,
        "BATOS_STATE_DIR": str(tmp_path),
        "TERM": "xterm-256color",
        **extra,
    }


def test_keys_typed_at_the_instant_prompt_are_run(daemon: RunningDaemon, tmp_path: Path) -> None:
    repl = PtyRepl(_environ(daemon, tmp_path))
    try:
        repl.read_until(INSTANT)
        # Drawn by hand before prompt_toolkit has loaded: nothing came before it.
        assert repl.seen.startswith(INSTANT), repl.seen[:80]
        repl.type(b"6 * 7\r")  # at once, while prompt_toolkit is still loading
        screen = repl.read_until(b"42")
        # Held, not echoed by the terminal: nothing visible between the instant
        # prompt and prompt_toolkit's own.
        between = screen[len(INSTANT) : screen.index(b"batos>", len(INSTANT))]
        assert ESCAPE.sub(b"", between).strip() == b"", screen
        assert b"6" in ESCAPE.sub(b"", screen[len(INSTANT) :])  # then prompt_toolkit drew the line
        # The next prompt (prompt_toolkit reads keys raw again), then Ctrl-D leaves.
        repl.read_until(b"batos>", timeout=10, after=screen.index(b"42"))
        repl.type(b"\x04")
        assert repl.close() == 0
    finally:
        if repl.proc.poll() is None:
            repl.close()
    assert "6 * 7" in (tmp_path / "repl_history").read_text()


def test_switched_off_prompt_toolkit_draws_the_first_prompt(daemon: RunningDaemon, tmp_path: Path) -> None:
    repl = PtyRepl(_environ(daemon, tmp_path, BATOS_INSTANT_PROMPT="0"))
    try:
        seen = repl.read_until(b"batos>")
        assert INSTANT not in seen
        assert seen.index(b"\x1b[") < seen.index(b"batos>"), seen[:120]  # prompt_toolkit's escapes first
        repl.type(b"\x04")
        assert repl.close() == 0
    finally:
        if repl.proc.poll() is None:
            repl.close()
