"""An image written before a persistent class moved still reads it (`image.class_moves`)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from batos_core.image import open_image
from batos_core.image.class_moves import MOVED
from batos_core.image_format import MIGRATIONS
from batos_core.methods.changelog import ChangeLog, change_log
from batos_core.methods.install import install_method

OLD_MODULE = "batos_core.jit.changelog"


def write_image_with_the_old_change_log(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An image whose change log was pickled while ChangeLog lived in the JIT package."""
    old = types.ModuleType(OLD_MODULE)
    old.ChangeLog = ChangeLog  # type: ignore[attr-defined]
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, OLD_MODULE, old)
        patch.setattr(ChangeLog, "__module__", OLD_MODULE)
        with open_image(path, migrations=MIGRATIONS) as image, image.session() as session:
            for attempt in session.transaction_manager.attempts():
                with attempt:
                    install_method(
                        session,
                        session.genesis,
                        "answer",
                        "def answer(self):\n    return 42\n",
                        {},
                        action="install",
                    )
    assert OLD_MODULE not in sys.modules


def test_a_change_log_written_under_the_jit_reads_from_its_place_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "image.fs"
    write_image_with_the_old_change_log(path, monkeypatch)
    assert OLD_MODULE.encode() in path.read_bytes()
    with open_image(path, migrations=MIGRATIONS) as image, image.session() as session:
        log = change_log(session.root)  # asserts that it is a ChangeLog, not ZODB's Broken stand-in
        assert [(r.action, r.selector) for r in log] == [("install", "answer")]


def test_every_moved_class_is_importable_where_it_is_now() -> None:
    import importlib

    for module, name in MOVED.values():
        assert isinstance(getattr(importlib.import_module(module), name), type)


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_every_moved_class_is_found_at_its_new_place(old: tuple[str, str], new: tuple[str, str]) -> None:
    import importlib

    from batos_core.image.class_moves import find_class

    expected = getattr(importlib.import_module(new[0]), new[1])
    assert find_class(None, *old) is expected
    assert expected.__module__ == new[0]
