"""The generated-UI path end to end: a display_yourself in the image, run by the UI process.

Real daemon subprocess, real Kivy rendering offscreen; the UI process writes
its screenshot and a report of its widgets' text (``--report``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batos_core.protocol import builders

from .conftest import RunningDaemon, offscreen_env, run_ui
from .png import read_png
from .ui_sources import GOOD_UI

pytestmark = pytest.mark.gui

MOTTO = "entropy is life"


@pytest.fixture(scope="module", autouse=True)
def good_ui(daemon: RunningDaemon) -> None:
    daemon.install_ui(GOOD_UI)
    reply = daemon.request(builders.send_request("genesis", "setSlot:value:", ["motto", MOTTO]))
    assert reply["type"] == "send_reply", reply


def _label_texts(report: dict[str, object]) -> list[str]:
    texts = report["texts"]
    assert isinstance(texts, list)
    return [text for kind, text in texts if kind == "Label"]


def test_screenshot_shows_the_state_of_genesis(daemon: RunningDaemon, tmp_path: Path) -> None:
    shot, report_path = tmp_path / "ui.png", tmp_path / "report.json"
    done = run_ui(daemon, tmp_path, "--screenshot", str(shot), "--report", str(report_path))
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    assert report["title"] == "BAT OS Entropic UI"
    status = _label_texts(report)[0]
    # The label holds genesis's slots as read back through the bridge.
    assert status.startswith("genesis")
    assert f"motto = {MOTTO}" in status
    assert "display_yourself = <method display_yourself v" in status
    assert report["state"]["motto"] == MOTTO
    assert report["state_shown_ns"] is not None

    width, height, rows = read_png(shot)
    assert (width, height) == (800, 600)
    pixels = [pixel[:3] for row in rows for pixel in row]
    assert len(set(pixels)) > 20  # not a blank frame: widgets and anti-aliased text
    # The status label's text is drawn in its green in the upper half ...
    upper = pixels[: len(pixels) // 2]
    assert sum(1 for r, g, b in upper if g > 200 and r < 190 and b < 210) > 50
    # ... and the text input is a large light box on the dark background.
    assert sum(1 for r, g, b in pixels if min(r, g, b) > 220) > 5_000


def test_typed_message_reaches_the_daemon_and_the_reply_is_shown(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            [
                {"type": "genesis setSlot: 'visits' value: 42"},
                {"press": "Send"},
                {"wait": "reply"},
                {"wait": "state"},
            ]
        )
    )
    env = offscreen_env(tmp_path) | {"BATOS_UI_TEST_SCRIPT": str(script)}
    report_path = tmp_path / "report.json"
    done = run_ui(
        daemon, tmp_path, "--report", str(report_path), "--screenshot", str(tmp_path / "after.png"), env=env
    )
    assert done.returncode == 0, done.stderr
    assert daemon.state()["visits"] == 42  # the daemon received it
    report = json.loads(report_path.read_text())
    assert report["script_errors"] == []
    [reply] = report["replies"]
    assert "visits: 42" in reply  # setSlot:value: answers the receiver, printed
    labels = _label_texts(report)
    assert any(text.startswith("reply: ") and "visits: 42" in text for text in labels)
    assert "visits = 42" in labels[0]  # the UI refreshed its state after the reply


def test_fallback_inspector_shows_state_and_replies(daemon: RunningDaemon, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"type": "genesis printString"}, {"press": "Send"}, {"wait": "reply"}]))
    env = offscreen_env(tmp_path) | {"BATOS_UI_TEST_SCRIPT": str(script)}
    shot, report_path = tmp_path / "fallback.png", tmp_path / "report.json"
    done = run_ui(
        daemon, tmp_path, "--fallback", "--screenshot", str(shot), "--report", str(report_path), env=env
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    assert report["title"] == "BAT OS Entropic UI (fallback inspector)"
    labels = _label_texts(report)
    assert f"motto: {MOTTO}" in labels[0]
    assert "> genesis printString" in labels[1]
    assert MOTTO in report["replies"][0]
    _w, _h, rows = read_png(shot)
    assert len({pixel[:3] for row in rows for pixel in row}) > 20


def test_an_unstarted_app_instance_and_self_bridge_run(daemon: RunningDaemon, tmp_path: Path) -> None:
    # Small models end with `return TheApp()` and write `self.bridge`; the UI process accepts both.
    source = GOOD_UI.replace("    return BatOS_EntropicUI_App\n", "    return BatOS_EntropicUI_App()\n")
    source = source.replace("bridge.get_full_state(", "self.bridge.get_full_state(", 1)
    assert source.count("BatOS_EntropicUI_App()") == 1 and "self.bridge." in source
    ui_file, report_path = tmp_path / "ui.py", tmp_path / "report.json"
    ui_file.write_text(source)
    shot = tmp_path / "ui.png"
    args = ["--source-file", str(ui_file), "--screenshot", str(shot), "--report", str(report_path)]
    done = run_ui(daemon, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())
    assert report["state"]["motto"] == MOTTO
