"""Files and directories only their owner can read: the image, its companions, the log.

An image holds every object and method of a world, and the daemon's log
names requests and selectors; neither is for other users of the machine.
batos makes them private in two ways, because no single one covers all:

* **The daemon runs under umask 077** (`lifecycle.main` sets it first). ZODB
  creates files whenever it likes (``.index`` at close, ``.pack`` and
  ``.old`` when packing, ``.trN`` when it drops an interrupted commit, the
  ``.tmp`` and ``.lock`` at open), with plain ``open()`` and the process umask:
  only the umask reaches all of them, including files a later ZODB adds.
* **Explicit modes where batos creates things itself, or finds them
  already there**: `make_private_dir` (0700 for each directory it creates),
  `make_private_file` (0600, and an existing file of ours is tightened to
  0600: a world from an older batos, or a log the CLI created), and
  `private_umask` around the FileStorage calls that create files, for the
  processes that open an image without being the daemon (tests, scripts,
  ``batos image recover``).

Directories that already exist are left as they are: an image may live in
any directory the user names (``~/projects/world.fs``), and batos does not
change the modes of directories it did not make. The runtime directory,
which holds the signing key, has its own stricter rule: it is refused, not
repaired (`protocol.connection.runtime_dir`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: The umask of the daemon and of the image-opening code paths.
PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
DIR_MODE = 0o700


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Run the body with umask 077, then restore the caller's.

    The umask is per process: while the body runs, another thread creating a
    file gets a more private mode than it asked for, never a less private one.
    """
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def make_private_dir(path: Path) -> None:
    """Create `path` and any missing parents with mode 0700; leave existing ones alone.

    Raises OSError if a directory cannot be created.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # created meanwhile by another process: not ours to change
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask


def make_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if missing, else tighten it to 0600.

    A symbolic link is not followed. A file owned by another user is left as
    it is (chmod would fail; a warning says so). Raises OSError if the file
    cannot be created.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, FILE_MODE)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        return  # a link: whoever made it chose its target; nothing is written through it
    try:
        tighten_fd(path, fd)
    finally:
        os.close(fd)


def tighten(path: Path) -> None:
    """Set an existing file of ours to 0600 (links not followed); a missing file is fine."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):
            return
        raise
    try:
        tighten_fd(path, fd)
    finally:
        os.close(fd)


def tighten_fd(path: Path, fd: int) -> None:
    """Set the open file `fd` (named `path` in messages) to 0600 if it is ours."""
    st = os.fstat(fd)
    if stat.S_IMODE(st.st_mode) & ~FILE_MODE == 0:
        return
    if st.st_uid != os.getuid():
        log.warning("%s belongs to uid %d: cannot make it private", path, st.st_uid)
        return
    os.fchmod(fd, FILE_MODE)
