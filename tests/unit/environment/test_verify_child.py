"""The verifier's image walk, against a real FileStorage another process keeps writing."""

from __future__ import annotations

from pathlib import Path

from batos_core.environment.verify_child import _check_image, _load_everything
from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS
from batos_core.objects import UvmObject


def _walk_after_a_late_commit(tmp_path: Path, *, snapshot_knows_the_commit: bool = False) -> list[str]:
    """Open a read-only snapshot, commit a new object through the writer, walk the snapshot.

    ``snapshot_knows_the_commit`` gives the snapshot the writer's newer last tid:
    FileStorage's index scan does that when it finds a transaction still being
    written (status "c"), which it reports as its last but does not index.
    """
    image = tmp_path / "image.fs"
    problems: list[str] = []
    with open_image(image, migrations=MIGRATIONS) as live:
        snapshot = open_image(image, read_only=True, migrations=MIGRATIONS)
        try:
            live.default_session.genesis.late = UvmObject()  # a new oid, after the snapshot opened
            live.default_session.commit()
            if snapshot_knows_the_commit:
                newer = live.db.storage.lastTransaction()
                snapshot.db.storage.lastTransaction = lambda: newer  # type: ignore[method-assign]
            objects, _methods, _imports = _load_everything(snapshot, problems)
        finally:
            snapshot.close()
    assert objects > 3
    return problems


def test_objects_committed_after_the_read_only_open_are_not_reported(tmp_path: Path) -> None:
    assert _walk_after_a_late_commit(tmp_path) == []


def test_a_transaction_being_written_when_the_snapshot_opened_is_skipped(tmp_path: Path) -> None:
    assert _walk_after_a_late_commit(tmp_path, snapshot_knows_the_commit=True) == []


def test_a_whole_image_loads_without_problems(tmp_path: Path) -> None:
    image = tmp_path / "image.fs"
    with open_image(image, migrations=MIGRATIONS) as live:
        live.default_session.genesis.note = UvmObject()
        live.default_session.commit()
    problems: list[str] = []
    objects, _methods, _imports = _check_image(str(image), problems)
    assert problems == []
    assert objects > 3
