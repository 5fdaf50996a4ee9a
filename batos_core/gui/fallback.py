"""The hand-written inspector: the UI that works when the generated one does not.

``batos ui --fallback`` shows it. It uses the same bridge API a generated UI
is told about, so it is also the reference for what such a UI should do: a
status label with the target's state, a text input and a Send button for
messages, and a scrolling log of replies and events.
"""

from __future__ import annotations

from typing import Any

from batos_core.gui.bridge import SynapticBridge
from batos_core.ui_contract import UI_TARGET, UI_WINDOW_TITLE

FALLBACK_TITLE = f"{UI_WINDOW_TITLE} (fallback inspector)"
_MAX_LOG_LINES = 200


def state_text(target: str, state: dict[str, Any]) -> str:
    """The status label's text: one ``name: value`` line per slot, sorted by name."""
    lines = [f"{target}: {len(state)} slots"]
    lines += [f"  {name}: {state[name]}" for name in sorted(state)]
    return "\n".join(lines)


def inspector_app(bridge: SynapticBridge, target: str = UI_TARGET) -> type:
    """The inspector's App class (a Kivy ``App`` subclass) for ``target``.

    Imports Kivy: call after ``batos_core.gui.display.prepare``.
    """
    from kivy.app import App
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.textinput import TextInput

    class FallbackInspectorApp(App):  # type: ignore[misc]
        def build(self) -> Any:
            self.title = FALLBACK_TITLE
            root = BoxLayout(orientation="vertical", padding=8, spacing=6)
            self.status = Label(text=f"{target}: waiting for state...", halign="left", valign="top")
            self.status.bind(size=self._wrap)
            root.add_widget(self.status)
            row = BoxLayout(size_hint_y=None, height=40, spacing=6)
            self.entry = TextInput(multiline=False, hint_text=f"{target} printString")
            self.entry.bind(on_text_validate=self.send)
            row.add_widget(self.entry)
            row.add_widget(Button(text="Send", size_hint_x=None, width=100, on_release=self.send))
            root.add_widget(row)
            self.log_label = Label(text="", size_hint_y=None, halign="left", valign="top")
            self.log_label.bind(width=self._wrap, texture_size=self._grow)
            scroll = ScrollView()
            scroll.add_widget(self.log_label)
            root.add_widget(scroll)
            bridge.on_event(self.show_event)
            self.refresh()
            return root

        def refresh(self) -> None:
            bridge.get_full_state(target, self.show_state, self.show_error)

        def show_state(self, state: dict[str, Any]) -> None:
            self.status.text = state_text(target, state)

        def show_error(self, text: str) -> None:
            self.append(text)

        def show_event(self, event: dict[str, Any]) -> None:
            self.append(f"[{event.get('kind', 'event')}] {event.get('data', {})}")

        def send(self, *_args: Any) -> None:
            text = self.entry.text.strip()
            if text:
                self.append(f"> {text}")
                bridge.send(text, self.show_reply)

        def show_reply(self, text: str) -> None:
            self.append(text)
            self.refresh()  # the message may have changed the state

        def append(self, line: str) -> None:
            lines = [*self.log_label.text.splitlines(), line][-_MAX_LOG_LINES:]
            self.log_label.text = "\n".join(lines)

        @staticmethod
        def _wrap(label: Any, *_args: Any) -> None:
            label.text_size = (label.width, None if label.size_hint_y is None else label.height)

        @staticmethod
        def _grow(label: Any, size: Any) -> None:
            label.height = size[1]

    return FallbackInspectorApp
