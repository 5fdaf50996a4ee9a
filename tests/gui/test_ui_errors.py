"""Broken UIs fail clearly: the message, the offending line, a non-zero exit, the
fallback hint, and a daemon that keeps serving other clients."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batos_core.protocol import builders

from .conftest import RunningDaemon, offscreen_env, run_ui
from .ui_sources import (
    BUILD_RAISES_UI,
    CALLBACK_RAISES_UI,
    NO_APP_CLASS_UI,
    RETURNS_NOTHING_UI,
    SYNTAX_ERROR_UI,
)

pytestmark = pytest.mark.gui

FALLBACK_HINT = "batos ui --fallback"


def _assert_daemon_serves(daemon: RunningDaemon) -> None:
    reply = daemon.request(builders.send_request("genesis", "printString"))
    assert reply["type"] == "send_reply", reply
    assert daemon.proc.poll() is None


@pytest.mark.parametrize(
    ("source", "expected", "line", "line_text"),
    [
        pytest.param(
            NO_APP_CLASS_UI,
            "must define a class named BatOS_EntropicUI_App",
            1,
            "def display_yourself(self):",
            id="missing-app-class",
        ),
        pytest.param(
            RETURNS_NOTHING_UI,
            "must return the App subclass BatOS_EntropicUI_App itself, but returned an instance of NoneType",
            None,
            "",
            id="returns-none",
        ),
        pytest.param(
            BUILD_RAISES_UI,
            "the UI failed while running: KeyError: 'entropy'",
            9,
            'return Label(text=missing["entropy"])',
            id="exception-in-build",
        ),
        pytest.param(
            CALLBACK_RAISES_UI,
            "the UI failed while running: KeyError: 'no_such_slot'",
            13,
            'self.status.text = state["no_such_slot"]',
            id="exception-in-a-bridge-callback",
        ),
    ],
)
def test_broken_ui_in_the_image_is_reported_with_its_line(
    daemon: RunningDaemon, tmp_path: Path, source: str, expected: str, line: int | None, line_text: str
) -> None:
    daemon.install_ui(source)
    shot = tmp_path / "ui.png"
    done = run_ui(daemon, tmp_path, "--screenshot", str(shot))
    assert done.returncode == 1, done.stderr
    assert expected in done.stderr
    if line is not None:
        assert "<genesis display_yourself v" in done.stderr
        assert f", line {line}:" in done.stderr
        assert line_text in done.stderr
    assert FALLBACK_HINT in done.stderr
    assert "Traceback" not in done.stderr
    assert not shot.exists()
    _assert_daemon_serves(daemon)


def test_syntax_error_is_reported_with_its_line(daemon: RunningDaemon, tmp_path: Path) -> None:
    # The daemon refuses to install source that does not compile, so a
    # syntax error can only come from a file given with --source-file.
    source_file = tmp_path / "ui.py"
    source_file.write_text(SYNTAX_ERROR_UI)
    done = run_ui(
        daemon, tmp_path, "--source-file", str(source_file), "--screenshot", str(tmp_path / "x.png")
    )
    assert done.returncode == 1
    assert "the UI source was refused: syntax error: expected ':'" in done.stderr
    assert "line 5:" in done.stderr
    assert "def build(self)" in done.stderr
    assert FALLBACK_HINT in done.stderr
    _assert_daemon_serves(daemon)


def test_a_missing_daemon_is_reported(tmp_path: Path) -> None:
    runtime_dir = tmp_path / "run"
    runtime_dir.mkdir(mode=0o700)
    command = [sys.executable, "-m", "batos_core.gui", "--image", str(tmp_path / "none.fs")]
    done = subprocess.run(
        [*command, "--runtime-dir", str(runtime_dir), "--screenshot", str(tmp_path / "x.png")],
        env=offscreen_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert "no daemon is running for this image" in done.stderr
    assert "batos daemon start" in done.stderr


def test_a_silent_daemon_is_reported(daemon: RunningDaemon, tmp_path: Path) -> None:
    # A connection file whose socket nobody serves: the request times out.
    stale = tmp_path / "stale.json"
    text = daemon.connection_file.read_text().replace(".sock", "-gone.sock")
    stale.write_text(text)
    stale.chmod(0o600)
    os.chmod(tmp_path, 0o700)
    done = run_ui(
        daemon,
        tmp_path,
        "--connection-file",
        str(stale),
        "--timeout",
        "0.5",
        "--screenshot",
        str(tmp_path / "x.png"),
    )
    assert done.returncode == 3, done.stderr
    assert "does not answer" in done.stderr


def test_an_image_without_a_ui_says_how_to_get_one(daemon: RunningDaemon, tmp_path: Path) -> None:
    reply = daemon.request(builders.send_request("genesis", "removeSlot:", ["display_yourself"]))
    assert reply["type"] == "send_reply", reply
    done = run_ui(daemon, tmp_path, "--screenshot", str(tmp_path / "x.png"))
    assert done.returncode == 1
    assert "genesis has no display_yourself method yet" in done.stderr
    assert "batos send genesis display_yourself" in done.stderr
