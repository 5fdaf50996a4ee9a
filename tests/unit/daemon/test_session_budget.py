"""The daemon sizes ZODB's connection pool for its workers and their stand-ins."""

from __future__ import annotations

import asyncio
from pathlib import Path

from batos_core.daemon.server import Daemon, session_budget
from batos_core.daemon_config import DaemonConfig


def test_the_image_expects_every_session_the_daemon_may_hold(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    daemon = Daemon(DaemonConfig(image=str(tmp_path / "image.fs"), runtime_dir=runtime, workers=3))
    daemon.open()
    try:
        assert daemon.image is not None
        # Each worker and a stand-in for each (a review wait), autotelic, pruner, spare.
        assert daemon.image.db.getPoolSize() == session_budget(3) >= 3 + 3 + 2
    finally:
        asyncio.run(daemon._drain())
