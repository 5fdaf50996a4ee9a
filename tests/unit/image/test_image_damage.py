"""A damaged FileStorage is refused with nothing written; a crash's leftovers are not damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from batos_core.image import ImageDamaged, open_image
from batos_core.image.damage import check_image, find_damage
from batos_core.image_format import MIGRATIONS

CHECKPOINT_OFFSET = 16  # tid (8) + length (8): the status byte of a transaction header


def build_image(path: Path, values: range) -> None:
    """An image whose genesis.x took each of `values`, one commit each, closed cleanly."""
    with open_image(path, migrations=MIGRATIONS) as image:
        session = image.session()
        for value in values:
            session.lobby.genesis.x = value
            session.commit()
        session.close()


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in `directory`: its bytes and mtime (ns)."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def refused(path: Path) -> str:
    """open_image's one-line refusal of `path`; asserts nothing in its directory changed."""
    before = snapshot(path.parent)
    with pytest.raises(ImageDamaged) as info:
        open_image(path, migrations=MIGRATIONS)
    assert snapshot(path.parent) == before
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def last_transaction(path: Path) -> bytes:
    data = path.read_bytes()
    length = int.from_bytes(data[-8:], "big")
    return data[-8 - length :]


def unfinished_copy(path: Path) -> bytes:
    """The last transaction again, with a later tid and marked 'c': an interrupted commit."""
    record = bytearray(last_transaction(path))
    record[:8] = (int.from_bytes(record[:8], "big") + 1).to_bytes(8, "big")
    record[CHECKPOINT_OFFSET : CHECKPOINT_OFFSET + 1] = b"c"
    return bytes(record)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    path = tmp_path / "image.fs"
    build_image(path, range(20))
    return path


def test_a_good_image_has_no_damage(built: Path) -> None:
    assert find_damage(built) is None
    assert check_image(built) is None


def test_an_image_cut_at_half_is_refused_and_left_as_it_is(built: Path) -> None:
    data = built.read_bytes()
    built.write_bytes(data[: len(data) // 2])
    message = refused(built)
    assert "cut short or damaged at byte" in message
    assert f"batos image recover {built}" in message
    assert check_image(built) is not None


def test_a_zero_byte_image_is_damaged_not_a_new_world(tmp_path: Path) -> None:
    empty = tmp_path / "image.fs"
    empty.touch()
    message = refused(empty)
    assert "empty (0 bytes)" in message and "restore it from a backup" in message
    assert empty.stat().st_size == 0


def test_a_header_fragment_is_damaged(tmp_path: Path) -> None:
    fragment = tmp_path / "image.fs"
    fragment.write_bytes(b"FS")
    assert "shorter than a FileStorage header" in refused(fragment)


def test_an_index_that_disagrees_with_the_file_is_refused(built: Path, tmp_path: Path) -> None:
    earlier = tmp_path / "earlier.fs"
    shutil.copy(built, earlier)  # a whole, shorter history: its tail is fine
    build_image(built, range(20, 40))
    shutil.copy(f"{built}.index", f"{earlier}.index")  # the later index beside the earlier file
    message = refused(earlier)
    assert "index earlier.fs.index disagrees with the file" in message
    assert "cut short" not in message


def test_an_unfinished_last_commit_is_a_crash_and_opens(built: Path) -> None:
    # A process killed between a commit's vote and its finish leaves its
    # transaction marked 'c' at the end: nobody was told of it.
    unfinished = unfinished_copy(built)
    with built.open("ab") as fh:
        fh.write(unfinished[: len(unfinished) // 2])
    assert find_damage(built) is None
    assert check_image(built) is None
    with open_image(built, migrations=MIGRATIONS) as image:
        assert image.lobby.genesis.x == 19


def test_an_unfinished_commit_followed_by_more_is_damage(built: Path) -> None:
    with built.open("ab") as fh:
        fh.write(unfinished_copy(built) + last_transaction(built))
    assert "cut short or damaged" in refused(built)


def test_the_index_of_a_new_image_killed_before_its_first_close_is_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "image.fs"
    copy = tmp_path / "copy.fs"
    # FileStorage saved an index at position 4 when it made the file
    with open_image(path, migrations=MIGRATIONS) as image:
        session = image.session()
        session.lobby.genesis.x = 7
        session.commit()
        session.close()
        shutil.copy(path, copy)  # what a kill -9 now would leave
        shutil.copy(f"{path}.index", f"{copy}.index")
    assert find_damage(copy) is None
    with open_image(copy, migrations=MIGRATIONS) as image:
        assert image.lobby.genesis.x == 7


def test_check_reads_every_record_where_opening_trusts_the_index(built: Path) -> None:
    data = bytearray(built.read_bytes())
    first_length = int.from_bytes(data[12:20], "big")  # the first transaction starts at byte 4
    data[4 + first_length : 4 + first_length + 8] = (first_length + 1).to_bytes(8, "big")
    built.write_bytes(bytes(data))
    assert find_damage(built) is None  # the index is sane: opening reads only after it
    problem = check_image(built)
    assert problem is not None and problem.startswith("fstest:") and "transaction length" in problem
