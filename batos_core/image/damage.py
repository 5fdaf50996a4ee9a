"""Finding a damaged FileStorage image before anything opens it for writing.

Opened read-write, ZODB's FileStorage repairs what it finds without asking:
a last transaction cut short is truncated away (its bytes saved to
``IMAGE.trN``), an ``.index`` that disagrees with the file is ignored and
rebuilt, and a zero-byte file is given a header and becomes a new, empty
world. For a crash that is right; for a file cut in half by a full disk or a
bad copy it silently serves an older world and then writes over the
evidence. So batos looks first, read-only, and refuses a damaged image
(`ImageDamaged`, one line naming the problem and ``batos image recover``).

The look is ZODB's own reading: `FileStorage(path, read_only=True)` loads
and sanity-checks the ``.index`` exactly as a read-write open would, then
scans the transactions after it, stopping (without truncating, being read
only) where the file stops making sense. The image is damaged when

* the file is empty, or shorter than the 4-byte FileStorage header;
* the scan stops before the end of the file, unless what follows is one
  unfinished commit: a last transaction still marked ``c`` (checkpoint). A
  process killed between a commit's vote and its finish leaves exactly that,
  and nobody was told of it, so dropping it (as FileStorage does) loses
  nothing acknowledged: that is a crash, not damage;
* an ``.index`` exists but FileStorage found it insane (it names positions
  the file does not have, or records that are not where it says): the file
  was truncated or replaced under it. One insane index is benign: the one
  FileStorage saves when it creates a file, at position 4 (just the
  header), which stays until the first clean close; a daemon killed before
  then leaves it beside a good file;
* FileStorage itself refuses the file (a corrupt record in the middle).

`check_image` adds ZODB's ``fstest`` (every transaction and data record
checked) for ``batos image check``; the daemon does not pay for that scan on
every start. Nothing here writes: read-only FileStorage takes no lock and
creates no file.
"""

from __future__ import annotations

import logging
import pickle
import struct
from pathlib import Path

from ZODB.FileStorage import FileStorage
from ZODB.FileStorage.format import TRANS_HDR, TRANS_HDR_LEN
from ZODB.POSException import POSError

from batos_core.image.errors import ImageDamaged

log = logging.getLogger(__name__)

_HEADER_LEN = 4  # b"FS21"
_CHECKPOINT = b"c"


def recovery_hint(path: Path) -> str:
    """What to run for a damaged image at `path` (empty files have nothing to recover)."""
    if path.exists() and path.stat().st_size == 0:
        return "restore it from a backup, or remove it to start a new world (docs/operations.md)"
    return f"run `batos image recover {path}` (docs/operations.md)"


def damaged(path: Path, problem: str) -> ImageDamaged:
    """The ImageDamaged error for `problem` at `path`: one line, with the recovery command."""
    return ImageDamaged(f"damaged image {path}: {problem}; {recovery_hint(path)}")


def find_damage(path: Path) -> str | None:
    """The problem with the existing FileStorage at `path`, or None if it may be opened.

    Reads only. Raises OSError if the file cannot be read.
    """
    return _inspect(path)[0]


def _inspect(path: Path) -> tuple[str | None, int]:
    """(the problem or None, where the last whole transaction ends)."""
    size = path.stat().st_size
    if size == 0:
        return "the file is empty (0 bytes)", 0
    if size < _HEADER_LEN:
        return f"the file is {size} bytes, shorter than a FileStorage header", 0
    try:
        storage = FileStorage(str(path), read_only=True)
    except (POSError, ValueError) as exc:  # CorruptedError, FileStorageFormatError, struct errors
        return f"FileStorage cannot read it: {_one_line(exc)}", 0
    try:
        end = storage._pos  # just past the last whole transaction ZODB accepted
        used_index = storage._used_index  # 0: there was no usable .index
    finally:
        storage.close()
    problems = []
    if end < size and not _unfinished_commit(path, end, size):
        problems.append(
            f"the last transaction is cut short or damaged at byte {end} of {size} "
            f"({size - end} bytes past the last whole transaction)"
        )
    index = Path(f"{path}.index")
    if index.exists() and not used_index and _index_position(index) != _HEADER_LEN:
        problems.append(f"its index {index.name} disagrees with the file")
    return "; ".join(problems) or None, end


def _index_position(index: Path) -> int | None:
    """The file position an ``.index`` was saved at (its first pickle), or None if unreadable."""
    try:
        with index.open("rb") as fh:
            position = pickle.Unpickler(fh).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError):
        return None
    return position if isinstance(position, int) else None


def _unfinished_commit(path: Path, pos: int, size: int) -> bool:
    """Whether the bytes from `pos` to the end are one transaction still marked in-progress
    (whole or cut short: nothing may follow it)."""
    with path.open("rb") as fh:
        fh.seek(pos)
        header = fh.read(TRANS_HDR_LEN)
    if len(header) < TRANS_HDR_LEN:
        return False
    _tid, length, status, *_lengths = struct.unpack(TRANS_HDR, header)
    return bool(status == _CHECKPOINT and pos + length + 8 >= size)


def refuse_if_damaged(path: Path) -> None:
    """Raise ImageDamaged if `path` (an existing file) is damaged; write nothing either way."""
    problem = find_damage(path)
    if problem is not None:
        raise damaged(path, problem)


def check_image(path: Path) -> str | None:
    """`find_damage`, then ZODB's fstest over every record: the problem, or None.

    fstest checks each transaction and data record up to the end of the last
    whole transaction (an unfinished commit after it is a crash's, see above).
    """
    from ZODB.scripts import fstest

    problem, end = _inspect(path)
    if problem is not None:
        return problem
    with path.open("rb") as file:
        file.seek(_HEADER_LEN)
        pos: int | None = _HEADER_LEN
        tid = b"\0" * 8
        try:
            while pos is not None and pos < end:
                pos, tid = fstest.check_trec(str(path), file, pos, tid, end)
        except fstest.FormatError as exc:
            return f"fstest: {_one_line(exc)}"
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
