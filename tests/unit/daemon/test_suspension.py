"""Suspending a method from a wedge report, and resuming it, on an in-memory image."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batos_core.daemon.suspension import apply_wedge_report, resume
from batos_core.daemon.wedge import WedgeReport
from batos_core.image import Image, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.methods.changelog import change_log
from batos_core.methods.install import install_method
from batos_core.objects import MethodSuspended, UvmObject, get_slot, send, set_slot


@pytest.fixture
def image() -> Iterator[Image]:
    img = open_image("memory://", migrations=MIGRATIONS)
    with img.session() as session:
        for attempt in session.transaction_manager.attempts():
            with attempt:
                source = "def spin(self):\n    return 1\n"
                install_method(session, session.genesis, "spin", source, {"author": "user"}, action="install")
                set_slot(session.lobby, "child", UvmObject(**{"parent*": session.genesis}))
    try:
        yield img
    finally:
        img.close()


def _report(path: Path, receiver: str, request_selector: str, method_selector: str) -> Path:
    WedgeReport(99, 1.0, 10.4, "rid", "send_request", receiver, request_selector, method_selector, []).write(
        path
    )
    return path


def test_a_report_suspends_the_method_on_its_holder_once(image: Image, tmp_path: Path) -> None:
    report = _report(tmp_path / "w.json", "child", "outer", "spin")  # found through child's parent
    apply_wedge_report(image, report)
    assert not report.exists()
    with image.session() as session:
        method = get_slot(session.genesis, "spin")
        assert method.suspended["request"] == "rid" and method.suspended["holder_name"] == "genesis"
        with pytest.raises(MethodSuspended, match="batos methods resume genesis spin"):
            send(session.lobby.child, "spin")
        assert method.arity == 0  # its signature is still known
        records = list(change_log(session.root))
        assert [r.action for r in records][-1] == "suspend"
        session.abort()
    apply_wedge_report(image, _report(tmp_path / "w.json", "child", "outer", "spin"))  # again: no change
    with image.session() as session:
        assert [r.action for r in change_log(session.root)].count("suspend") == 1
        session.abort()


def test_an_eval_report_finds_the_method_from_the_lobby_and_resume_undoes_it(
    image: Image, tmp_path: Path
) -> None:
    apply_wedge_report(image, _report(tmp_path / "w.json", "", "", "spin"))
    with image.session() as session:
        for attempt in session.transaction_manager.attempts():
            with attempt:
                assert resume(session, session.genesis, "spin", by="user") is not None
        assert send(session.genesis, "spin") == 1
        assert [r.action for r in change_log(session.root)][-2:] == ["suspend", "resume"]
        session.abort()


def test_a_report_naming_nothing_or_garbage_is_dropped_and_the_daemon_goes_on(
    image: Image, tmp_path: Path
) -> None:
    apply_wedge_report(image, _report(tmp_path / "w.json", "genesis", "nothing", "nothing_either"))
    garbage = tmp_path / "g.json"
    garbage.write_text("[")
    apply_wedge_report(image, garbage)
    apply_wedge_report(image, tmp_path / "missing.json")
    assert not garbage.exists() and not (tmp_path / "w.json").exists()
    with image.session() as session:
        assert isinstance(session.genesis, UvmObject) and send(session.genesis, "spin") == 1
        session.abort()
