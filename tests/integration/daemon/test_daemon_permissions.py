"""The daemon's files are private, and it refuses to start where they would not be."""

from __future__ import annotations

import os
import stat
from typing import Any


def test_socket_connection_file_and_runtime_dir_are_private(daemon: Any) -> None:
    socket_path = daemon.info.endpoint[len("ipc://") :]
    assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(daemon.connection_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(daemon.dirs.runtime_dir).st_mode) == 0o700


def test_daemon_refuses_a_group_readable_runtime_dir(batos_dirs: Any, launch_daemon: Any) -> None:
    os.chmod(batos_dirs.runtime_dir, 0o755)
    proc, line, log_path = launch_daemon()
    assert proc.wait(30) != 0
    assert line.startswith("error ")
    assert "accessible by group or others" in line
    log = log_path.read_text()
    assert "refusing to start" in log and str(batos_dirs.runtime_dir) in log
    assert "Traceback" not in log
    assert not list(batos_dirs.runtime_dir.glob("*.sock"))


def test_daemon_refuses_a_world_readable_connection_file(daemon_factory: Any, launch_daemon: Any) -> None:
    first = daemon_factory()
    assert first.stop() == 0
    os.chmod(first.connection_path, 0o644)
    proc, line, log_path = launch_daemon()
    assert proc.wait(30) != 0
    assert line.startswith("error ")
    assert str(first.connection_path) in line
    assert "refusing to start" in log_path.read_text()
    # Refused, not repaired: the file is as the test left it.
    assert stat.S_IMODE(os.stat(first.connection_path).st_mode) == 0o644
