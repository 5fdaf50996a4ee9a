"""The verifier's image walk, against a real FileStorage another process keeps writing."""

from __future__ import annotations

from pathlib import Path

from batos_core.image import open_image
from batos_core.objects import UvmObject
from batos_core.upgrade.verify_child import _check_image, _load_everything


def test_objects_committed_after_the_read_only_open_are_not_reported(tmp_path: Path) -> None:
    image = tmp_path / "image.fs"
    with open_image(image) as live:
        snapshot = open_image(image, read_only=True)
        try:
            session = live.default_session
            session.genesis.late = UvmObject()  # a new oid, written after the snapshot opened
            session.commit()
            problems: list[str] = []
            objects, _methods, _imports = _load_everything(snapshot, problems)
        finally:
            snapshot.close()
    assert problems == []
    assert objects > 3


def test_a_transaction_being_written_when_the_snapshot_opened_is_skipped(tmp_path: Path) -> None:
    # FileStorage's index scan returns, as the last tid, that of a transaction it
    # found still being written (status "c") and did not index; the iterator,
    # reading later, then lists that transaction's new oids. Simulated here by
    # giving the snapshot the writer's newer last tid.
    image = tmp_path / "image.fs"
    with open_image(image) as live:
        snapshot = open_image(image, read_only=True)
        try:
            session = live.default_session
            session.genesis.late = UvmObject()
            session.commit()
            newer = live.db.storage.lastTransaction()
            snapshot.db.storage.lastTransaction = lambda: newer  # type: ignore[method-assign]
            problems: list[str] = []
            _load_everything(snapshot, problems)
        finally:
            snapshot.close()
    assert problems == []


def test_a_whole_image_loads_without_problems(tmp_path: Path) -> None:
    image = tmp_path / "image.fs"
    with open_image(image) as live:
        live.default_session.genesis.note = UvmObject()
        live.default_session.commit()
    problems: list[str] = []
    objects, _methods, _imports = _check_image(str(image), problems)
    assert problems == []
    assert objects > 3
