"""`batos daemon status` on a shared world: the storage, and every daemon the world knows."""

from __future__ import annotations

from typing import Any

from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS
from batos_core.world.registry import REGISTRY_KEY
from batos_core.zeo_record import ServerRecord


def test_each_daemon_registers_beats_and_leaves(
    batos: Any, daemon_factory: Any, zeo_world: ServerRecord
) -> None:
    a = daemon_factory(image=zeo_world.uri, instance="a")
    b = daemon_factory(image=zeo_world.uri, instance="b")
    status = b.status()
    assert status["storage"] == "zeo"
    listed = {(entry["pid"], entry["instance"], entry["self"]) for entry in status["daemons"]}
    assert listed == {(a.pid, "a", False), (b.pid, "b", True)}
    assert all(entry["silent_s"] < 15 for entry in status["daemons"])
    shown = batos("--image", zeo_world.uri, "daemon", "status", env={"BATOS_INSTANCE": "b"})
    assert shown.returncode == 0, shown.stderr
    assert "zeo world served by 2 daemon(s):" in shown.stdout
    assert f"pid {b.pid} instance b, incarnation " in shown.stdout and "(this one)" in shown.stdout
    assert a.stop() == 0
    with open_image(zeo_world.uri, migrations=MIGRATIONS) as image:
        entries = list(image.default_session.root[REGISTRY_KEY].values())
    assert [(entry["pid"], entry["instance"]) for entry in entries] == [(b.pid, "b")]  # a left
