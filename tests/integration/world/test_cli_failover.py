"""`batos` commands on a shared world fail over to another daemon of it on this machine."""

from __future__ import annotations

import os
import signal
from typing import Any

from batos_cli import connect
from batos_core.daemon_config import DaemonConfig
from batos_core.zeo_record import ServerRecord


def test_a_send_fails_over_from_a_stopped_daemon(
    zeo_world: ServerRecord, batos: Any, batos_dirs: Any
) -> None:
    for _ in range(2):
        started = batos("--image", zeo_world.uri, "daemon", "start", "--wedge-timeout", "0")
        assert started.returncode == 0, started.stderr
    first = connect.running(DaemonConfig(zeo_world.uri, batos_dirs.runtime_dir))
    assert first is not None
    assert batos("--image", zeo_world.uri, "send", "genesis", "setSlot:value:", "x", "7").returncode == 0
    os.kill(first.pid, signal.SIGSTOP)  # alive, so still chosen first, but silent
    try:
        seen = batos("--image", zeo_world.uri, "send", "genesis", "x", env={"BATOS_TIMEOUT": "1"})
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.strip() == "7"
    assert "failing over to" in seen.stderr
