"""A daemon refuses a damaged image at start, says why on its ready pipe, and writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from batos_core.daemon.lifecycle import EXIT_IMAGE_ERROR
from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS


def build_image(path: Path, values: range) -> None:
    with open_image(path, migrations=MIGRATIONS) as image:
        session = image.session()
        for value in values:
            session.lobby.genesis.x = value
            session.commit()
        session.close()


def files_of(directory: Path) -> dict[str, tuple[bytes, int]]:
    files = [p for p in sorted(directory.iterdir()) if p.is_file()]
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


def test_an_image_whose_index_disagrees_is_refused(batos_dirs: Any, launch_daemon: Any) -> None:
    worlds = batos_dirs.data_dir / "worlds"
    worlds.mkdir()
    image, earlier = worlds / "image.fs", worlds / "earlier.fs"
    build_image(image, range(10))
    shutil.copy(image, earlier)
    build_image(image, range(10, 30))
    shutil.copy(f"{image}.index", f"{earlier}.index")
    before = files_of(worlds)
    proc, line, log_path = launch_daemon(image=earlier)
    assert proc.wait(30) == EXIT_IMAGE_ERROR
    assert line.startswith(f"error damaged image {earlier}: its index earlier.fs.index disagrees"), line
    assert f"batos image recover {earlier}" in line
    assert files_of(worlds) == before
    assert "Traceback" not in log_path.read_text()


def test_an_image_cut_in_half_is_refused_and_a_good_copy_serves(
    batos_dirs: Any, launch_daemon: Any, daemon_factory: Any
) -> None:
    image = batos_dirs.image
    build_image(image, range(100))
    good = batos_dirs.data_dir / "good.fs"
    shutil.copy(image, good)
    shutil.copy(f"{image}.index", f"{good}.index")
    data = image.read_bytes()
    image.write_bytes(data[: len(data) // 2])
    before = files_of(image.parent)
    proc, line, _log = launch_daemon()
    assert proc.wait(30) == EXIT_IMAGE_ERROR
    assert line.startswith("error damaged image") and "cut short or damaged" in line, line
    assert files_of(image.parent) == before
    daemon = daemon_factory(image=good)
    assert daemon.send("genesis", "x")["result"] == 99
