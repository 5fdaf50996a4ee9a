"""The image tracker: a full scan of a hand-built image, then incremental updates that match a rescan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batos_core.autotelic.cem import normalized_entropy
from batos_core.autotelic.tracker import ImageTracker
from batos_core.image import Image, Session, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.methods.install import install_method
from batos_core.objects import Method, UvmObject, set_slot, slot_items


@pytest.fixture
def memory_image() -> Iterator[Image]:
    img = open_image("memory://", migrations=MIGRATIONS)
    try:
        yield img
    finally:
        img.close()


def _all_counts(session: Session) -> list[tuple[int, int]]:
    """Slot and method counts of every UvmObject in the image, the slow way (for comparison)."""
    counts = []
    seen: set[bytes] = set()
    stack = [session.lobby]
    while stack:
        obj = stack.pop()
        if obj._p_oid in seen:
            continue
        seen.add(obj._p_oid)
        items = slot_items(obj)
        counts.append((len(items), sum(1 for _, v in items if isinstance(v, Method))))
        stack.extend(v for _, v in items if isinstance(v, UvmObject))
    return counts


def _add_objects(session: Session, slot_counts: list[int]) -> None:
    for index, n in enumerate(slot_counts):
        set_slot(session.lobby, f"o{index}", UvmObject(**{f"s{i}": i for i in range(n)}))
    session.commit()


def _expected(session: Session) -> float:
    counts = _all_counts(session)
    return 0.5 * normalized_entropy([c[0] for c in counts]) + 0.5 * normalized_entropy([c[1] for c in counts])


@pytest.mark.parametrize("uri", ["memory", "file"])
def test_full_scan_matches_the_known_entropy(uri: str, memory_image: Image, image: Image) -> None:
    img = memory_image if uri == "memory" else image
    with img.session() as session:
        _add_objects(session, [4] * 20)
        tracker = ImageTracker(img.db)
        try:
            summary = tracker.refresh()
            assert summary.objects == len(_all_counts(session))
            assert summary.structural_entropy() == pytest.approx(_expected(session))
        finally:
            tracker.close()


def test_uniform_image_scores_above_a_skewed_one(tmp_path: Path) -> None:
    values = {}
    for name, counts in {"uniform": [5] * 30, "skewed": [150] + [0] * 29}.items():
        with open_image(tmp_path / f"{name}.fs", migrations=MIGRATIONS) as img, img.session() as session:
            _add_objects(session, counts)
            tracker = ImageTracker(img.db)
            values[name] = tracker.refresh().structural_entropy()
            tracker.close()
    assert values["uniform"] > values["skewed"]


def test_incremental_updates_equal_a_fresh_scan(image: Image) -> None:
    tracker = ImageTracker(image.db)
    with image.session() as session:
        _add_objects(session, [2, 2, 2])
        tracker.refresh()
        # Changes from another connection: new objects, new slots, a method install.
        set_slot(session.lobby.o0, "extra", [1, 2, 3])
        set_slot(session.lobby, "late", UvmObject(a=1, b=2, c=3, d=4))
        install_method(
            session, session.lobby.o1, "double", "def double(self):\n    return 2\n", {}, action="install"
        )
        session.commit()
        incremental = tracker.refresh()
        fresh_tracker = ImageTracker(image.db)
        fresh = fresh_tracker.refresh()
        assert incremental.counts == fresh.counts
        assert incremental.structural_entropy() == pytest.approx(fresh.structural_entropy())
        assert incremental.structural_entropy() == pytest.approx(_expected(session))
        assert incremental.installs_seen == 1
        fresh_tracker.close()
    tracker.close()


def test_the_summary_survives_a_restart_and_reads_only_what_changed(tmp_path: Path) -> None:
    path, cache = tmp_path / "image.fs", tmp_path / "image.fs.cem"
    with open_image(path, migrations=MIGRATIONS) as img:
        with img.session() as session:
            _add_objects(session, [3] * 10)
        tracker = ImageTracker(img.db, cache_path=cache)
        tracker.refresh()
        with img.session() as session:  # seen by the final refresh at close
            set_slot(session.lobby.o0, "extra", 1)
            session.commit()
        tracker.close()
    assert cache.is_file()
    with open_image(path, migrations=MIGRATIONS) as img:
        with img.session() as session:  # committed while no tracker ran
            set_slot(session.lobby, "late", UvmObject(a=1, b=2))
            set_slot(session.lobby.o1, "more", 2)
            session.commit()
            expected = _expected(session)
        restarted = ImageTracker(img.db, cache_path=cache)
        summary = restarted.refresh()
        assert restarted.loaded_from_cache
        fresh = ImageTracker(img.db)
        assert summary.counts == fresh.refresh().counts
        assert summary.structural_entropy() == pytest.approx(expected)
        fresh.close()
        restarted.close()


def test_a_summary_saved_for_another_image_is_not_used(tmp_path: Path) -> None:
    first, second = tmp_path / "a.fs", tmp_path / "b.fs"
    with open_image(first, migrations=MIGRATIONS) as img:
        tracker = ImageTracker(img.db, cache_path=tmp_path / "a.fs.cem")
        tracker.refresh()
        tracker.close()
    (tmp_path / "b.fs.cem").write_bytes((tmp_path / "a.fs.cem").read_bytes())
    with open_image(second, migrations=MIGRATIONS) as img:
        other = ImageTracker(img.db, cache_path=tmp_path / "b.fs.cem")
        other.refresh()
        assert not other.loaded_from_cache
        other.close()
    (tmp_path / "a.fs.cem").write_bytes(b"not a pickle")
    with open_image(first, migrations=MIGRATIONS) as img:
        damaged = ImageTracker(img.db, cache_path=tmp_path / "a.fs.cem")
        assert damaged.refresh().objects > 0 and not damaged.loaded_from_cache
        damaged.close()
