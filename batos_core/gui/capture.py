"""Screenshots, reports and scripted input: the UI's offscreen test and CI mode.

With ``--screenshot FILE`` and/or ``--report FILE`` the launcher installs a
:class:`Capture` on the running app. It waits until the UI has been given the
state it asked for (the bridge counts delivered ``get_full_state`` replies),
lets a few frames draw, optionally plays a script of user actions, then saves
the window as PNG, writes a JSON report of what the widgets show, and stops
the app. Nothing here knows the generated UI's structure: widgets are found
by walking the tree.

Script (``BATOS_UI_TEST_SCRIPT`` names a JSON file, a list of steps)::

    [{"type": "genesis setSlot: 'x' value: 3"},   # text into the first TextInput
     {"press": "Send"},                           # press the Button whose text contains it
     {"wait": "reply"},                           # until a send reply came after the last action
     {"wait": "state"},                           # until a state came after the last action
     {"frames": 3}]                               # let frames draw

Report (JSON): ``title``, ``texts`` (``[class name, text]`` of every widget
with text, in tree order), ``state`` (last state delivered), ``replies``,
``errors``, ``script_errors``, ``state_shown_ns`` (wall clock when the first
frame with state was drawn; ``null`` if none came).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from batos_core.gui.bridge import SynapticBridge

log = logging.getLogger(__name__)

SCRIPT_ENV = "BATOS_UI_TEST_SCRIPT"
SETTLE_FRAMES = 2
STEP_TIMEOUT_S = 15.0


@dataclass
class CapturePlan:
    """What to capture. ``state_timeout_s``: how long to wait for the first state."""

    screenshot: Path | None = None
    report: Path | None = None
    script: list[dict[str, Any]] = field(default_factory=list)
    state_timeout_s: float = 15.0

    @property
    def active(self) -> bool:
        return self.screenshot is not None or self.report is not None or bool(self.script)


def load_script(path: Path) -> list[dict[str, Any]]:
    """Read a script file; raises ValueError naming the file when it is not a list of dicts."""
    try:
        steps = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the UI test script {path}: {exc}") from None
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise ValueError(f"the UI test script {path} must be a JSON list of objects")
    return steps


class Capture:
    """Drives one app through: first state, settle, script, screenshot, report, stop.

    ``failed`` is set when a wait timed out or a step could not be played; the
    launcher then exits non-zero. Runs on the Kivy main thread (Clock).
    """

    def __init__(self, app: Any, bridge: SynapticBridge, plan: CapturePlan) -> None:
        self.app = app
        self.bridge = bridge
        self.plan = plan
        self.failed = False
        self.script_errors: list[str] = []
        self.state_shown_ns: int | None = None
        self._steps = list(plan.script)
        self._waiting: Callable[[], bool] | None = None
        self._wait_label = ""
        self._wait_since = time.monotonic()
        self._frames_left = 0
        self._state_seen = False
        self._replies_mark = 0
        self._states_mark = 0
        self._started = time.monotonic()
        self._event: Any = None

    def install(self) -> None:
        """Start ticking once per frame."""
        from kivy.clock import Clock

        self._event = Clock.schedule_interval(self._tick, 0)

    def _tick(self, _dt: float) -> None:
        if self._frames_left > 0:
            self._frames_left -= 1
            return
        if self.state_shown_ns is None:
            self._await_first_state()
            return
        if self._waiting is not None:
            if self._waiting():
                self._waiting = None
                self._frames_left = SETTLE_FRAMES
            elif time.monotonic() - self._wait_since > STEP_TIMEOUT_S:
                self._fail(f"timed out waiting for {self._wait_label}")
                self._waiting = None
            return
        if self._steps:
            self._play(self._steps.pop(0))
            return
        self._finish()

    def _await_first_state(self) -> None:
        if self.bridge.states_delivered > 0:
            if not self._state_seen:
                # The label took its text this frame; its texture is drawn in the next ones.
                self._state_seen = True
                self._frames_left = SETTLE_FRAMES
                return
            self.state_shown_ns = time.time_ns()
            return
        if time.monotonic() - self._started > self.plan.state_timeout_s:
            self._fail(f"the UI showed no state within {self.plan.state_timeout_s:g} s")
            self.state_shown_ns = 0

    def _play(self, step: dict[str, Any]) -> None:
        try:
            if "type" in step:
                self._mark()
                _first(self.app.root, "TextInput").text = str(step["type"])
            elif "press" in step:
                self._mark()
                _button(self.app.root, str(step["press"])).trigger_action(duration=0)
            elif step.get("wait") == "reply":
                self._wait_for("a reply", partial(self._more_replies, self._replies_mark))
            elif step.get("wait") == "state":
                self._wait_for("a state", partial(self._more_states, self._states_mark))
            elif "frames" in step:
                self._frames_left = int(step["frames"])
            else:
                raise ValueError(f"unknown step {step!r}")
        except (LookupError, ValueError, TypeError) as exc:
            self._fail(f"step {step!r}: {exc}")

    def _mark(self) -> None:
        # Waits count what arrived since the last action: a reply may land
        # (and trigger a state refresh) before the wait step is reached.
        self._replies_mark = self.bridge.replies_delivered
        self._states_mark = self.bridge.states_delivered

    def _more_replies(self, seen: int) -> bool:
        return self.bridge.replies_delivered > seen

    def _more_states(self, seen: int) -> bool:
        return self.bridge.states_delivered > seen

    def _wait_for(self, label: str, condition: Callable[[], bool]) -> None:
        self._waiting = condition
        self._wait_label = label
        self._wait_since = time.monotonic()

    def _fail(self, text: str) -> None:
        log.error("capture: %s", text)
        self.script_errors.append(text)
        self.failed = True

    def _finish(self) -> None:
        if self._event is not None:
            self._event.cancel()
        if self.plan.screenshot is not None:
            save_screenshot(self.plan.screenshot)
        if self.plan.report is not None:
            self.plan.report.write_text(json.dumps(self.report(), indent=2, default=str))
        self.app.stop()

    def report(self) -> dict[str, Any]:
        """What the UI shows now, as described in the module docstring."""
        return {
            "title": str(getattr(self.app, "title", "")),
            "texts": widget_texts(self.app.root),
            "state": self.bridge.last_state,
            "replies": list(self.bridge.replies),
            "errors": list(self.bridge.errors),
            "script_errors": list(self.script_errors),
            "state_shown_ns": self.state_shown_ns or None,
        }


def save_screenshot(path: Path) -> None:
    """Save the window's current frame as PNG at ``path`` (parent directories made)."""
    from kivy.core.window import Window

    path.parent.mkdir(parents=True, exist_ok=True)
    # Window.screenshot numbers its file name itself; shoot into a private
    # directory and move the result where it was asked for.
    with tempfile.TemporaryDirectory(prefix="batos-ui-") as tmp:
        written = Window.screenshot(name=str(Path(tmp) / "frame.png"))
        if not written:
            raise OSError("Kivy wrote no screenshot")
        shutil.move(written, path)


def widget_texts(root: Any) -> list[list[str]]:
    """``[class name, text]`` for every widget under ``root`` that has non-empty text."""
    if root is None:
        return []
    texts: list[list[str]] = []
    for widget in root.walk(restrict=True):
        text = getattr(widget, "text", None)
        if isinstance(text, str) and text:
            texts.append([type(widget).__name__, text])
    return texts


def _first(root: Any, class_name: str) -> Any:
    from kivy.factory import Factory

    cls = Factory.get(class_name)
    for widget in root.walk(restrict=True):
        if isinstance(widget, cls):
            return widget
    raise LookupError(f"the UI has no {class_name}")


def _button(root: Any, label: str) -> Any:
    from kivy.uix.button import Button

    buttons = [w for w in root.walk(restrict=True) if isinstance(w, Button)]
    for button in buttons:
        if label.lower() in str(button.text).lower():
            return button
    if buttons:
        return buttons[0]
    raise LookupError("the UI has no Button")
