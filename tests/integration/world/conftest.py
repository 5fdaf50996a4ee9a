"""Fixtures for one world served to several daemons: a real ZEO server (`batos image serve`'s
own `zeo_server`, so ZEO's runzeo in a subprocess) on a free loopback port, and `batos`
run against it. Daemons a test starts on the world are stopped at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from world_servers import Batos, batos_runner, free_port

from batos_cli import connect
from batos_core.daemon.config import DaemonConfig
from batos_core.world import zeo_server
from batos_core.world.zeo_server import ServerRecord


@pytest.fixture
def zeo_world(tmp_path: Path) -> Iterator[ServerRecord]:
    """A ZEO server serving `tmp_path/world.fs`, started as `batos image serve` does; stopped after."""
    record = zeo_server.serve(tmp_path / "world.fs", "127.0.0.1", free_port())
    try:
        yield record
    finally:
        if zeo_server.running(record.image) is not None:
            zeo_server.stop(record.image)


@pytest.fixture
def batos(batos_dirs: Any, zeo_world: ServerRecord) -> Iterator[Batos]:
    """Run `batos` in this test's directories; stops every daemon of `zeo_world` it started."""
    yield batos_runner(batos_dirs)
    config = DaemonConfig(image=zeo_world.uri, runtime_dir=batos_dirs.runtime_dir)
    for instance in connect.instances(config):
        connect.stop(DaemonConfig(zeo_world.uri, batos_dirs.runtime_dir, instance=instance))
