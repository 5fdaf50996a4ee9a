"""`batos upgrade` environments are private like the rest of the data dir, whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path

from batos_core.environment.envbuild import _new_dir


def test_new_environment_dirs_are_0700_under_umask_022(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        root = tmp_path / "data" / "envs"
        first, second = _new_dir(root), _new_dir(root)
    finally:
        os.umask(previous)
    for path in (root, first, second):
        assert path.stat().st_mode & 0o777 == 0o700, path
    assert first != second
