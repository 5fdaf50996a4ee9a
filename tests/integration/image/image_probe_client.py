"""Running `image_probe.py` in a fresh interpreter (only the repository on its path), with bounded waits."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[3]
PROBE = Path(__file__).with_name("image_probe.py")
# `-P`: the probe's own directory (the tests) is not put on sys.path, so the
# probe can import only what a daemon could: the repository.

def probe_env() -> dict[str, str]:
    """The environment of a probe: only the repository on the path (not the tests)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return env


def start_probe(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start `image_probe.py ARGS` in `cwd` with pipes for stdin/stdout/stderr."""
    return subprocess.Popen(
        [sys.executable, "-P", str(PROBE), *args],
        cwd=cwd,
        env=probe_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_line(stream: IO[str], timeout: float) -> str:
    """One line from `stream`, or TimeoutError after `timeout` seconds."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise TimeoutError(f"no output within {timeout} s")
    return stream.readline()


def run_probe(*args: str, cwd: Path) -> dict[str, Any]:
    """Run the probe to completion (60 s at most) and return its JSON result."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-P", str(PROBE), *args],
        cwd=cwd,
        env=probe_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, f"probe {args} failed after {took:.1f} s:\n{done.stderr}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result
