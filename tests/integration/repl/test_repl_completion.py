"""Completion against a real daemon: own and inherited selectors, names, and the shell helper."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from batos_cli.repl.completer import SelfCompleter
from batos_cli.repl.remote import Remote

from .conftest import RunningDaemon, batos_environ, drive

BATOS = str(Path(sys.executable).parent / "batos")


def test_a_receiver_is_offered_its_own_and_inherited_selectors(daemon: RunningDaemon) -> None:
    driven = drive(
        daemon.info,
        "base := genesis clone\rbase setSlot: #colour value: 1\rkid := (| size <- 2. parent* = base |)\r",
    )
    remote = Remote(daemon.info, timeout=5.0)
    completer = SelfCompleter(remote, lambda: driven.session.variables)

    def offered(text: str) -> list[tuple[str, str]]:
        event = CompleteEvent(completion_requested=True)
        return [(c.text, c.display_text) for c in completer.get_completions(Document(text), event)]

    try:
        own_and_traits = {("setSlot:", "setSlot:value:"), ("size", "size"), ("slotNames", "slotNames")}
        assert own_and_traits <= set(offered("kid s"))
        assert all(display.startswith("s") for _, display in offered("kid s"))
        assert ("colour", "colour") in offered("kid co")  # from base, one parent up
        assert ("clone", "clone") in offered("kid cl")  # from traits, two parents up
        assert ("kid", "kid") in offered("ki")  # a REPL variable
        assert ("genesis", "genesis") in offered("gen")  # a lobby name
        assert offered("'kid s") == []  # inside a string
    finally:
        remote.close()


def test_complete_names_lists_lobby_names_of_the_running_daemon(daemon: RunningDaemon) -> None:
    done = subprocess.run(
        [BATOS, "__complete-names", "ge"],
        env=batos_environ(daemon),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["genesis"]


def test_complete_names_never_starts_a_daemon(daemon: RunningDaemon, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    environ = {
        **batos_environ(daemon),
        "BATOS_RUNTIME_DIR": str(run_dir),
        "BATOS_IMAGE": str(tmp_path / "x.fs"),
    }
    done = subprocess.run(
        [BATOS, "__complete-names"], env=environ, capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not (tmp_path / "x.fs").exists()
    assert not run_dir.exists() or not any(run_dir.iterdir())
