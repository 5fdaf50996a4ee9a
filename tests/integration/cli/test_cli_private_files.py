"""Under umask 022, everything `batos` and its daemon create is private (0600 files, 0700 dirs)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli.conftest import batos_runner, stop_daemon_of
from tests.integration.conftest import BatosDirs


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def fresh_dirs(tmp_path: Path, umask_022: None) -> Iterator[BatosDirs]:
    """Only the runtime dir exists; the state and data dirs and the image are batos' to create."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    os.chmod(runtime, 0o700)
    dirs = BatosDirs(
        root=tmp_path,
        runtime_dir=runtime,
        state_dir=tmp_path / "state" / "batos",
        data_dir=tmp_path / "data" / "batos",
        image=tmp_path / "data" / "batos" / "worlds" / "image.fs",
    )
    yield dirs
    stop_daemon_of(dirs)


def modes_under(*roots: Path) -> dict[str, int]:
    """Permission bits of every file and directory under `roots` (the roots included)."""
    found: dict[str, int] = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            found[str(path)] = stat.S_IMODE(path.lstat().st_mode)
    return found


def not_private(modes: dict[str, int]) -> dict[str, str]:
    return {path: f"{mode:04o}" for path, mode in modes.items() if mode & 0o077}


def test_the_daemon_creates_its_image_log_and_dirs_private(fresh_dirs: BatosDirs) -> None:
    batos = batos_runner(fresh_dirs)
    assert (done := batos("send", "genesis", "setSlot:value:", "x", "3")).returncode == 0, done.stderr
    assert (done := batos("daemon", "stop")).returncode == 0, done.stderr
    image = fresh_dirs.image
    created = [Path(f"{image}{suffix}") for suffix in ("", ".index", ".lock", ".tmp")]
    assert all(path.exists() for path in created), sorted(os.listdir(image.parent))
    log = next(fresh_dirs.state_dir.glob("daemon-*.log"))
    assert "serving" in log.read_text()
    modes = modes_under(fresh_dirs.root / "state", fresh_dirs.root / "data", fresh_dirs.runtime_dir)
    assert len(modes) >= 10, modes
    assert not_private(modes) == {}
    assert {modes[str(path)] for path in [*created, log]} == {0o600}
    assert modes[str(image.parent)] == modes[str(fresh_dirs.root / "data")] == 0o700


def test_an_existing_world_readable_image_and_log_are_made_private(fresh_dirs: BatosDirs) -> None:
    batos = batos_runner(fresh_dirs)
    assert (done := batos("send", "genesis", "setSlot:value:", "x", "3")).returncode == 0, done.stderr
    assert batos("daemon", "stop").returncode == 0
    image = fresh_dirs.image
    log = next(fresh_dirs.state_dir.glob("daemon-*.log"))
    for path in (image, Path(f"{image}.index"), Path(f"{image}.tmp"), log):
        os.chmod(path, 0o644)  # as an older batos left them
    assert (done := batos("send", "genesis", "x")).returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    modes = modes_under(fresh_dirs.root / "state", fresh_dirs.root / "data")
    assert not_private(modes) == {}
