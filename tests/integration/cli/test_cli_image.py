"""`batos image check | recover`, and a damaged image refused by the daemon a command starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS

COMMITS = 200


def build_image(path: Path) -> int:
    """A real FileStorage image whose genesis.x went 0..COMMITS-1, one commit each;
    returns the file's size before the first of those commits (the bootstrap's)."""
    with open_image(path, migrations=MIGRATIONS) as image:
        session = image.session()
        bootstrapped = path.stat().st_size
        for value in range(COMMITS):
            session.lobby.genesis.x = value
            session.commit()
        session.close()
    return bootstrapped


def files_of(directory: Path) -> dict[str, tuple[bytes, int]]:
    files = [p for p in sorted(directory.iterdir()) if p.is_file()]
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


@pytest.fixture
def cut_image(batos_dirs: Any) -> Path:
    image: Path = batos_dirs.image
    bootstrapped = build_image(image)
    data = image.read_bytes()
    # Cut in the middle of the x commits, whatever size the bootstrap has.
    image.write_bytes(data[: bootstrapped + (len(data) - bootstrapped) // 2])
    return image


def test_a_cut_image_is_refused_checked_and_recovered(batos: Any, batos_dirs: Any, cut_image: Path) -> None:
    before = files_of(cut_image.parent)
    refused = batos("send", "genesis", "x")
    assert refused.returncode == 3, refused.stderr
    assert "damaged image" in refused.stderr and f"batos image recover {cut_image}" in refused.stderr
    assert files_of(cut_image.parent) == before  # nothing written, not even a .lock

    check = batos("image", "check")
    assert (check.returncode, check.stdout) == (10, ""), check.stderr
    # a cut tail, or an index that disagrees: either names the damage in one line
    assert check.stderr.count("\n") == 1 and "damaged" in check.stderr
    assert files_of(cut_image.parent) == before

    recovered = batos("image", "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout.startswith(f"recovered {cut_image} (")
    (kept,) = cut_image.parent.glob("image.fs.damaged-*[0-9]Z")
    assert kept.read_bytes() == before["image.fs"][0]
    assert batos("image", "check").stdout.strip() == f"{cut_image}: OK"

    served = batos("send", "genesis", "x")
    assert served.returncode == 0, served.stderr
    assert 0 <= int(served.stdout) < COMMITS - 1  # an earlier value: what the whole transactions held


def test_recover_is_refused_while_a_daemon_serves_the_image(batos: Any, batos_dirs: Any) -> None:
    assert batos("send", "genesis", "setSlot:value:", "x", "1").returncode == 0
    before = batos_dirs.image.read_bytes()
    done = batos("image", "recover")
    assert done.returncode == 11, done.stderr
    assert "stop it first" in done.stderr
    assert batos_dirs.image.read_bytes() == before
    assert not list(batos_dirs.image.parent.glob("image.fs.damaged-*"))


def test_a_zero_byte_image_is_damaged_and_not_recoverable(batos: Any, batos_dirs: Any) -> None:
    batos_dirs.image.touch()
    started = batos("send", "genesis", "x")
    assert started.returncode == 3 and "empty (0 bytes)" in started.stderr, started.stderr
    check = batos("image", "check", str(batos_dirs.image))
    assert check.returncode == 10 and "restore it from a backup" in check.stderr
    recover = batos("image", "recover", str(batos_dirs.image))
    assert recover.returncode == 10, recover.stderr
    assert batos_dirs.image.stat().st_size == 0
    assert [p.name for p in batos_dirs.image.parent.glob("image.fs*")] == ["image.fs"]


def test_check_of_a_missing_image_is_bad_input(batos: Any, batos_dirs: Any) -> None:
    done = batos("image", "check", str(batos_dirs.root / "nowhere.fs"))
    assert done.returncode == 6
    assert "does not exist" in done.stderr
