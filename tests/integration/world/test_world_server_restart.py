"""The ZEO server killed and restarted under load: every daemon on the world reconnects; their
clients see a delay or a typed, retryable error (``storage_unavailable``) and retry with the same id; nothing
is lost and nothing runs twice."""

from __future__ import annotations

import os
import signal
from typing import Any

from increment_load import IncrementLoad

from batos_core.world import zeo_server
from batos_core.zeo_record import ServerRecord

INCREMENTS = 30
BEFORE_KILL = 10
RETRYABLE = {"storage_unavailable", "conflict"}


def test_a_restarted_zeo_server_loses_nothing(zeo_world: ServerRecord, daemon_factory: Any) -> None:
    daemons = [daemon_factory(image=zeo_world.uri, instance=name) for name in ("a", "b")]
    daemons[0].install_counter()
    clients = [daemon.client(timeout=30.0) for daemon in daemons for _ in range(2)]
    load = IncrementLoad(clients, INCREMENTS, BEFORE_KILL, RETRYABLE).start()
    load.wait_under_load()
    os.kill(zeo_world.pid, signal.SIGKILL)
    os.waitpid(zeo_world.pid, 0)  # this process started it: reap it before serving again
    answered_before_kill = len(load.replies)
    restarted = zeo_server.serve(zeo_world.image, zeo_world.host, zeo_world.port)
    load.join()
    assert BEFORE_KILL <= answered_before_kill < load.total  # the kill came under load
    assert sorted(load.replies) == list(range(1, load.total + 1))
    for daemon in daemons:  # both reconnected, and both see every increment
        assert daemon.send("genesis", "counter")["result"] == load.total
    assert restarted.pid != zeo_world.pid
    assert set(load.retried) <= RETRYABLE  # (often two storage_unavailable; none if no request was in flight)
