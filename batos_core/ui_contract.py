"""What the daemon, the JIT's UI prompt, vetting and trial, the UI process and
the CLI agree on about a generated UI: the one home of those names.

A UI is the method `UI_SELECTOR` of an object (by default `UI_TARGET`). It is
looked up, and generated on a miss, in the daemon, but runs only in the UI
process (``batos ui``), never in the daemon (seed defect 9): sending it answers
the `ui_send_result` instead of running it. The method returns a Kivy App
subclass named `UI_CLASS_NAME`; inside it, the global `BRIDGE_NAME` is the UI's
connection to the daemon (`batos_core.gui.bridge.SynapticBridge`), whose calls
are `BRIDGE_CALLS`: the prompt describes exactly these, the trial answers
exactly these, the bridge implements exactly these.

Standard library only, and importing nothing of batos: the CLI, the UI process
and the JIT all import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UI_SELECTOR = "display_yourself"
"""The message whose method is an object's UI."""

UI_TARGET = "genesis"
"""The object whose UI ``batos ui`` shows, and whose state a UI asks for, unless told otherwise."""

UI_CLASS_NAME = "BatOS_EntropicUI_App"
"""The Kivy App subclass a UI method must define and return."""

UI_WINDOW_TITLE = "BAT OS Entropic UI"
"""The window title the UI prompt asks for."""

BRIDGE_NAME = "bridge"
"""The global (and App attribute) a UI reaches the daemon through."""

GET_FULL_STATE = "get_full_state"
"""``bridge.get_full_state(target, callback)``: later ``callback(state)``, slot name -> plain value."""

SEND = "send"
"""``bridge.send(text, callback)``: one REPL input; later ``callback(reply_text)``."""

ON_EVENT = "on_event"
"""``bridge.on_event(callback)``: ``callback(event)`` for every event the daemon pushes."""

BRIDGE_CALLS = (GET_FULL_STATE, SEND, ON_EVENT)
"""Every call a generated UI may make on the bridge."""

_UI_RESULT_KEY = "ui"


def ui_send_result(target: str, holder: str, version: int) -> dict[str, Any]:
    """The result of sending `UI_SELECTOR`: where the method is (`holder`, an oid)
    and its `version` (0 for a data slot), for the client to open the UI."""
    return {_UI_RESULT_KEY: UI_SELECTOR, "target": target, "holder": holder, "version": version}


def is_ui_send_result(result: object) -> bool:
    """Whether a send's decoded `result` is a `ui_send_result` (open the UI, do not print it)."""
    return isinstance(result, Mapping) and result.get(_UI_RESULT_KEY) == UI_SELECTOR
