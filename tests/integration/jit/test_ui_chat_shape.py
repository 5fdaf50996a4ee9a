"""display_yourself written as chat models write it, end to end through a real daemon.

A backend that cannot continue the UI prompt's prefill (the ``openai``
backend, like the scripted one here) gets the App class at the top level, the
function that returns it, and often a main guard. The daemon's JIT encloses
that into the accepted form, vets and tries it, installs the enclosed source,
and ``batos send genesis display_yourself --screenshot`` renders it offscreen.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from jit_helpers import BatosCli, ScriptedDaemons, fenced, history, slot_names

pytestmark = [pytest.mark.gui, pytest.mark.slow]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CHAT_SHAPED_UI = """\
from kivy.app import App
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput


class BatOS_EntropicUI_App(App):
    title = "BAT OS Entropic UI"

    def build(self):
        root = BoxLayout(orientation="vertical")
        self.status = Label(text="genesis: waiting for its state")
        self.entry = TextInput(multiline=False, size_hint_y=None, height=40)
        send = Button(text="Send", size_hint_y=None, height=40)
        send.bind(on_press=self.send_message)
        self.replies = BoxLayout(orientation="vertical", size_hint_y=None)
        scroll = ScrollView()
        scroll.add_widget(self.replies)
        for widget in (self.status, self.entry, send, scroll):
            root.add_widget(widget)
        bridge.get_full_state("genesis", self.show_state)
        return root

    def show_state(self, state):
        self.status.text = "\\n".join(name + " = " + str(value) for name, value in sorted(state.items()))

    def send_message(self, button):
        bridge.send(self.entry.text, self.show_reply)

    def show_reply(self, reply):
        self.replies.add_widget(Label(text=str(reply), size_hint_y=None, height=30))


def display_yourself(self):
    return BatOS_EntropicUI_App


if __name__ == "__main__":
    BatOS_EntropicUI_App().run()
"""

# The same reply with a statement at the top level that would run when the
# source is defined: refused, whatever else the reply holds.
WITH_TOP_LEVEL_CODE = CHAT_SHAPED_UI.replace(
    "\n\nclass BatOS", "\nbridge.send(\"genesis setSlot: 'pwned' value: 1\", print)\n\nclass BatOS"
)


def offscreen(root: Path) -> dict[str, str]:
    """The UI process's environment: software GL, no display."""
    return {
        "SDL_VIDEODRIVER": "offscreen",
        "LIBGL_ALWAYS_SOFTWARE": "1",
        "KIVY_NO_ARGS": "1",
        "KIVY_NO_CONSOLELOG": "1",
        "KIVY_HOME": str(root / "kivy-home"),
        "DISPLAY": "",
        "WAYLAND_DISPLAY": "",
    }


def test_a_top_level_app_class_is_enclosed_installed_and_rendered(
    scripted: ScriptedDaemons, cli: BatosCli, batos_dirs: Any
) -> None:
    daemon = scripted([fenced(WITH_TOP_LEVEL_CODE), fenced(CHAT_SHAPED_UI)])
    shot = batos_dirs.root / "ui.png"
    done = cli(
        "send", "genesis", "display_yourself", "--screenshot", str(shot), env=offscreen(batos_dirs.root)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert shot.read_bytes()[:8] == PNG_MAGIC and shot.stat().st_size > 2_000

    newest = history(daemon, "display_yourself", "genesis")[0]
    assert newest["action"] == "install"
    assert newest["provenance"]["attempts"] == 2
    # The first reply was refused for its top-level statement, before anything ran.
    assert "candidate 1 rejected: line 8: remove the top-level statement `bridge.send(" in daemon.log_text()
    # What was installed is the enclosed form: one function, the imports and the
    # class inside it, no main guard; the model's own lines otherwise.
    source = newest["source"]
    tree = ast.parse(source)
    assert [type(node) for node in tree.body] == [ast.FunctionDef]
    assert source.startswith("def display_yourself(self):\n    from kivy.app import App\n")
    assert "    class BatOS_EntropicUI_App(App):\n" in source
    assert source.rstrip().endswith("    return BatOS_EntropicUI_App")
    assert "__main__" not in source and "pwned" not in source
    assert "pwned" not in slot_names(daemon)  # the refused statement never ran
