"""Daemon ids: one per FileStorage image, one per instance on a shared world."""

from __future__ import annotations

from pathlib import Path

import pytest

from batos_core.daemon_config import DaemonConfig
from batos_core.places import image_id, is_shared_world


def test_instances_of_a_shared_world_get_their_own_files(tmp_path: Path) -> None:
    first = DaemonConfig(image="zeo://127.0.0.1:8100", runtime_dir=tmp_path)
    second = DaemonConfig(image="zeo://127.0.0.1:8100", runtime_dir=tmp_path, instance="2")
    assert second.image_id == f"{first.image_id}-2"
    assert first.connection_path() != second.connection_path()
    assert first.pid_path() != second.pid_path()
    assert first.log_path() != second.log_path()


@pytest.mark.parametrize(
    ("image", "shared"),
    [("zeo://h:1", True), ("postgresql://u@h/db", True), ("/a/b.fs", False), ("memory://", False)],
)
def test_shared_worlds(image: str, shared: bool) -> None:
    assert is_shared_world(image) is shared


@pytest.mark.parametrize("bad", ["-x", "a/b", "a-b", "x" * 33, " "])
def test_bad_instance_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="instance name"):
        image_id("zeo://h:1", bad)
