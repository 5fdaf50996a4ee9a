"""`recover_image`: ZODB's fsrecover into a new file, then a swap that keeps the damaged original.

Order of events (each step leaves a state a daemon start handles safely):

1. Take the image's FileStorage lock (``IMAGE.lock``), held to the end: a
   daemon serving the image holds it, so recovery refuses (ImageLocked), and
   no daemon can open the image while it runs.
2. `check_image`: an image with no damage is left alone (returns None). (An
   empty file has nothing to recover: ImageDamaged, pointing at a backup,
   before step 1.)
3. ``ZODB.fsrecover.recover(IMAGE, .IMAGE.recovering-<stamp>)``: the damaged
   file is only read; every transaction fsrecover can read is copied into a
   new FileStorage, damaged ones are skipped. The new file must pass
   `find_damage` and is fsync'ed.
4. ``IMAGE.damaged-<stamp>`` is made a hard link to the damaged file (a copy
   where links are not possible), and the old ``.index`` moves beside it.
5. The recovered file is renamed over ``IMAGE`` (atomic), its index over
   ``IMAGE.index``; the directory is fsync'ed.

Until step 5, ``IMAGE`` is the damaged file (a daemon start refuses it);
after it, the recovered one. Files are created private
(`batos_core.private_files`). Errors: ImageLocked, NotAnImage (missing),
ImageDamaged (nothing recoverable), ImageError (fsrecover gave up), OSError.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from batos_core.image.damage import check_image, damaged, find_damage
from batos_core.image.errors import ImageError, ImageLocked, NotAnImage
from batos_core.private_files import private_umask

log = logging.getLogger(__name__)

_BYTES_REMOVED = re.compile(r"(\d+) bytes removed during recovery")


@dataclass(frozen=True)
class Recovered:
    """What `recover_image` did."""

    image: Path
    problem: str  # what was wrong with it
    damaged_copy: Path  # the damaged original, kept
    bytes_removed: int | None  # as fsrecover counts them (None if it did not say)
    size_before: int
    size_after: int


def recover_image(path: Path) -> Recovered | None:
    """Recover the damaged FileStorage at `path` (see the module docstring); None if undamaged."""
    import zc.lockfile

    if not path.is_file():
        raise NotAnImage(f"{path} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise damaged(path, "the file is empty (0 bytes)")
    try:
        with private_umask():
            lock = zc.lockfile.LockFile(f"{path}.lock")
    except zc.lockfile.LockError:
        raise ImageLocked(f"{path} is in use (a batos daemon serves it): stop it first") from None
    try:
        problem = check_image(path)
        if problem is None:
            return None
        return _recover(path, problem, path.stat().st_size)
    finally:
        lock.close()


def _recover(path: Path, problem: str, size_before: int) -> Recovered:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    work = path.with_name(f".{path.name}.recovering-{stamp}")
    report = _run_fsrecover(path, work)
    try:
        left = find_damage(work)
        if left is not None:
            raise ImageError(f"fsrecover's copy of {path} is still damaged ({left}); {path} is unchanged")
        _fsync(work)
    except BaseException:
        _remove_storage_files(work)
        raise
    damaged_copy = path.with_name(f"{path.name}.damaged-{stamp}")
    _keep(path, damaged_copy)
    index = Path(f"{path}.index")
    if index.exists():
        os.replace(index, f"{damaged_copy}.index")
    os.replace(work, path)
    if Path(f"{work}.index").exists():
        os.replace(f"{work}.index", index)
    _remove_storage_files(work)
    _fsync_dir(path.parent)
    match = _BYTES_REMOVED.search(report)
    recovered = Recovered(
        image=path,
        problem=problem,
        damaged_copy=damaged_copy,
        bytes_removed=int(match.group(1)) if match else None,
        size_before=size_before,
        size_after=path.stat().st_size,
    )
    log.info("recovered %s (%s); the damaged original is %s", path, problem, damaged_copy)
    return recovered


def _run_fsrecover(path: Path, work: Path) -> str:
    """fsrecover `path` into `work`; its report (it prints one). Raises ImageError if it gives up."""
    from ZODB import fsrecover

    out = io.StringIO()
    try:
        with private_umask(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            fsrecover.recover(str(path), str(work))
    except SystemExit:  # fsrecover's die(): not a file storage, output exists
        _remove_storage_files(work)
        raise ImageError(f"fsrecover could not recover {path}: {' '.join(out.getvalue().split())}") from None
    except BaseException:
        _remove_storage_files(work)
        raise
    return out.getvalue()


def _keep(path: Path, damaged_copy: Path) -> None:
    try:
        os.link(path, damaged_copy)
    except OSError:  # a filesystem without hard links
        shutil.copy2(path, damaged_copy)
        _fsync(damaged_copy)


def _remove_storage_files(base: Path) -> None:
    for suffix in ("", ".index", ".lock", ".tmp", ".index.index_tmp"):
        Path(f"{base}{suffix}").unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
