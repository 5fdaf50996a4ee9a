"""`batos upgrade` replaces one daemon of a shared world while another keeps serving."""

from __future__ import annotations

import json
from typing import Any

from batos_cli import connect
from batos_core.daemon_config import DaemonConfig
from batos_core.zeo_record import ServerRecord


def test_upgrade_one_daemon_while_the_other_serves(
    zeo_world: ServerRecord, batos: Any, batos_dirs: Any
) -> None:
    for _ in range(2):
        started = batos("--image", zeo_world.uri, "daemon", "start", "--wedge-timeout", "0")
        assert started.returncode == 0, started.stderr
    second = DaemonConfig(zeo_world.uri, batos_dirs.runtime_dir, instance="2")
    old = connect.running(second)
    assert old is not None
    on_two = {"BATOS_INSTANCE": "2"}
    upgraded = batos("--image", zeo_world.uri, "upgrade", "--json", env=on_two)
    assert upgraded.returncode == 0, upgraded.stderr
    outcome = json.loads(upgraded.stdout)
    assert outcome["outcome"] == "upgraded" and outcome["old_pid"] == old.pid
    new = connect.running(second)
    assert new is not None and new.pid == outcome["new_pid"] != old.pid
    assert batos("--image", zeo_world.uri, "send", "genesis", "setSlot:value:", "x", "3").returncode == 0
    assert batos("--image", zeo_world.uri, "send", "genesis", "x", env=on_two).stdout.strip() == "3"
    status = json.loads(batos("--image", zeo_world.uri, "daemon", "status", "--json", env=on_two).stdout)
    assert {entry["pid"] for entry in status["daemons"]} >= {new.pid}
    assert old.pid not in {entry["pid"] for entry in status["daemons"]}
