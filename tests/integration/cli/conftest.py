"""Fixtures for CLI tests: run `batos` as a subprocess against private directories.

Whatever daemon a test's `batos` commands start (auto-start or `batos daemon
start`) is stopped at teardown, killed if it does not stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from batos_cli import connect
from batos_core.daemon_config import DaemonConfig
from batos_core.protocol.errors import InsecurePermissions

#: The console script's code, without depending on where .venv/bin is.
BATOS = [sys.executable, "-m", "batos_cli.main"]

Batos = Callable[..., "subprocess.CompletedProcess[str]"]


def batos_runner(dirs: Any) -> Batos:
    """`run(*args, color=False)`: `batos *args` in `dirs`' environment, output captured as text."""

    def run(*args: str, color: bool = False, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
        env = dirs.env()
        env.pop("NO_COLOR", None)
        env.pop("FORCE_COLOR", None)
        env["COLUMNS"] = "120"
        if color:
            env["FORCE_COLOR"] = "1"
        return subprocess.run([*BATOS, *args], env=env, capture_output=True, text=True, timeout=timeout)

    return run


def stop_daemon_of(dirs: Any) -> None:
    config = DaemonConfig(image=str(dirs.image), runtime_dir=dirs.runtime_dir)
    try:
        info = connect.running(config)
    except InsecurePermissions:
        return  # a test made the dir insecure: no daemon can have started there
    if info is None:
        return
    try:
        connect.stop(config, timeout=30.0)
    except Exception:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGKILL)
        raise


@pytest.fixture
def batos(batos_dirs: Any) -> Iterator[Batos]:
    """Run `batos` on this test's own image (no daemon yet)."""
    yield batos_runner(batos_dirs)
    stop_daemon_of(batos_dirs)


@pytest.fixture(scope="module")
def module_batos(module_batos_dirs: Any) -> Iterator[Batos]:
    """Run `batos` on an image shared by the module, its daemon already started."""
    run = batos_runner(module_batos_dirs)
    started = run("daemon", "start")
    assert started.returncode == 0, started.stderr
    yield run
    stop_daemon_of(module_batos_dirs)
