"""A process that opens an image without being the daemon (umask 022) still makes its files private."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from ZODB.serialize import referencesf

from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS


def test_open_commit_pack_and_close_under_umask_022_leave_only_private_files(tmp_path: Path) -> None:
    image_path = tmp_path / "new" / "dir" / "image.fs"
    previous = os.umask(0o022)
    try:
        with open_image(image_path, migrations=MIGRATIONS) as image:
            session = image.session()
            session.lobby.genesis.x = 1
            session.commit()
            session.lobby.genesis.x = 2
            session.commit()
            session.close()
            image.db.storage.pack(time.time(), referencesf)  # writes .pack, renames to .old
        names = sorted(os.listdir(image_path.parent))
        assert {"image.fs", "image.fs.index", "image.fs.lock", "image.fs.tmp", "image.fs.old"} <= set(names)
        modes = {name: stat.S_IMODE((image_path.parent / name).stat().st_mode) for name in names}
        assert set(modes.values()) == {0o600}, modes
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
        assert stat.S_IMODE(image_path.parent.stat().st_mode) == 0o700
        assert os.umask(0o022) == 0o022  # the caller's umask is back
    finally:
        os.umask(previous)
