"""A real daemon subprocess per test module, and helpers that drive a REPL session.

The daemon runs on an ipc:// socket in a private runtime dir under a temp
directory, with the JIT off (a miss is an error reply), and is stopped at
the end of the module. `BATOS_*` variables point at the same directories so
that `batos` subprocesses (tmux, __complete-names) find it too.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from prompt_toolkit.history import History
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from batos_cli import connect
from batos_cli.env import Environment
from batos_cli.repl.remote import Remote
from batos_cli.repl.session import ReplSession
from batos_core.daemon_config import DaemonConfig
from batos_core.protocol.builders import shutdown_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import ConnectionInfo
from batos_core.protocol.errors import DaemonUnavailable


@dataclass
class RunningDaemon:
    info: ConnectionInfo
    config: DaemonConfig
    environ: dict[str, str]


@pytest.fixture(scope="module")
def daemon() -> Iterator[RunningDaemon]:
    # A short base path: ipc:// socket paths are limited to ~100 bytes.
    with tempfile.TemporaryDirectory(prefix="batos-repl-") as base, pytest.MonkeyPatch.context() as mp:
        root = Path(base)
        environ = {
            "BATOS_RUNTIME_DIR": str(root / "run"),
            "BATOS_STATE_DIR": str(root / "state"),
            "BATOS_DATA_DIR": str(root / "data"),
            "BATOS_IMAGE": str(root / "image.fs"),
            "BATOS_BACKEND": "none",
        }
        for name, value in environ.items():
            mp.setenv(name, value)
        image, backend = environ["BATOS_IMAGE"], environ["BATOS_BACKEND"]
        config = DaemonConfig(image=image, runtime_dir=root / "run", workers=2, backend=backend)
        proc, info = _start(config, root / "daemon.log")
        try:
            yield RunningDaemon(info, config, environ)
        finally:
            _stop(proc, info)


def _start(config: DaemonConfig, log_path: Path) -> tuple[subprocess.Popen[bytes], ConnectionInfo]:
    """Start the daemon as our child and wait for its ready line (not a sleep)."""
    read_end, write_end = os.pipe()
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, *connect.daemon_args(config), "--ready-fd", str(write_end)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            pass_fds=(write_end,),
        )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as ready:
        selected, _, _ = select.select([ready], [], [], 60)
        line = ready.readline().decode() if selected else ""
    info = connect.running(config)
    if not line.startswith("ready") or info is None:
        proc.kill()
        proc.wait()
        pytest.fail(f"daemon did not start: {line!r}; log: {log_path.read_text()[-2000:]}")
    return proc, info


def _stop(proc: subprocess.Popen[bytes], info: ConnectionInfo) -> None:
    with Client.from_connection_info(info, timeout=5.0, retries=0) as client:
        with contextlib.suppress(DaemonUnavailable):
            client.request(shutdown_request())
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Driven:
    """What a driven session left behind: the session and its rendered output."""

    session: ReplSession
    stdout: StringIO
    stderr: StringIO

    @property
    def output(self) -> str:
        return self.stdout.getvalue()


def drive(info: ConnectionInfo, keys: str, *, history: History | None = None) -> Driven:
    """Type `keys` into a fresh REPL session (then Ctrl-D) and run it to the end."""
    stdout, stderr = StringIO(), StringIO()
    env = Environment(stdout=stdout, stderr=stderr, stdin=StringIO(), width=100)
    remote = Remote(info, timeout=10.0)
    try:
        with create_pipe_input() as pipe:
            pipe.send_text(keys + "\x04")
            session = ReplSession(remote, env, history=history, input=pipe, output=DummyOutput())
            session.run()
    finally:
        remote.close()
    return Driven(session, stdout, stderr)


def batos_environ(daemon: RunningDaemon) -> dict[str, str]:
    """The environment for a `batos` subprocess that talks to `daemon`."""
    return {**os.environ, **daemon.environ}
