"""Stopping and starting: SIGTERM drains, one daemon per image, restarts keep the image."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from batos_core.protocol.builders import create_method_request, send_request, status_request

SLOW_SOURCE = (
    "def slow(self):\n"
    "    total = 0\n"
    "    for i in range(8000000):\n"
    "        total = total + i\n"
    "    self.done = total\n"
    "    return 'finished'\n"
)


def wait_until_busy(daemon: Any, worker: threading.Thread) -> None:
    """Return once the daemon reports a request running (its own signal, no sleep)."""
    control = daemon.client()
    deadline = time.monotonic() + 30.0
    while control.request(status_request())["queue_depth"] == 0:
        assert worker.is_alive() and time.monotonic() < deadline


def test_sigterm_answers_the_request_in_flight_then_exits_0(daemon: Any) -> None:
    assert daemon.client().request(create_method_request("genesis", "slow", SLOW_SOURCE))["type"] == (
        "create_method_reply"
    )
    replies: list[dict[str, Any]] = []
    client = daemon.client(timeout=60.0)
    worker = threading.Thread(target=lambda: replies.append(client.request(send_request("genesis", "slow"))))
    worker.start()
    wait_until_busy(daemon, worker)
    assert daemon.pid_path.exists()
    os.kill(daemon.pid, signal.SIGTERM)
    worker.join(60.0)
    assert replies and replies[0]["type"] == "send_reply"
    assert replies[0]["result"] == "finished"
    assert daemon.proc.wait(30) == 0
    assert not daemon.pid_path.exists()
    assert not os.path.exists(daemon.info.endpoint[len("ipc://") :])
    assert "stop requested: draining" in daemon.log_text()


def test_the_write_of_a_drained_request_is_in_the_image(daemon_factory: Any) -> None:
    first = daemon_factory()
    first.install_counter()
    assert first.send("genesis", "increment")["result"] == 1
    incarnation = first.status()["incarnation"]
    os.kill(first.pid, signal.SIGTERM)
    assert first.proc.wait(30) == 0
    second = daemon_factory()
    assert second.send("genesis", "counter")["result"] == 1
    assert second.status()["incarnation"] == incarnation + 1


def test_a_second_daemon_on_the_same_image_refuses_and_leaves_the_first_alone(
    daemon: Any, launch_daemon: Any
) -> None:
    info_before = daemon.connection_path.read_bytes()
    proc, line, log_path = launch_daemon(log_path=daemon.dirs.state_dir / "second.log")
    assert proc.wait(30) == 3
    assert line.startswith("error ")
    assert "locked" in line
    assert "locked" in log_path.read_text()
    assert daemon.connection_path.read_bytes() == info_before
    assert daemon.pid_path.read_text().strip() == str(daemon.pid)
    assert daemon.status()["pid"] == daemon.pid
