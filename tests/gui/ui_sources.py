"""display_yourself sources for the GUI tests: one realistic UI and broken variants.

GOOD_UI is what a generated UI looks like when the model follows the UI
prompt (``batos_core.jit.prompt.ui_messages``): imports inside the function,
an App subclass named BatOS_EntropicUI_App, everything through ``bridge``.
"""

GOOD_UI = """\
def display_yourself(self):
    from kivy.app import App
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.textinput import TextInput
    from kivy.graphics import Color, Rectangle

    class BatOS_EntropicUI_App(App):
        def build(self):
            self.title = "BAT OS Entropic UI"
            root = BoxLayout(orientation="vertical", padding=10, spacing=8)
            with root.canvas.before:
                Color(0.08, 0.10, 0.16, 1)
                self.background = Rectangle(pos=root.pos, size=root.size)
            root.bind(pos=self.repaint, size=self.repaint)
            self.status = Label(text="genesis: connecting...", color=(0.6, 1, 0.7, 1))
            self.status.bind(size=self.wrap)
            root.add_widget(self.status)
            row = BoxLayout(size_hint_y=None, height=44, spacing=8)
            self.entry = TextInput(multiline=False, hint_text="a message, e.g. genesis printString")
            row.add_widget(self.entry)
            row.add_widget(Button(text="Send", size_hint_x=None, width=110, on_release=self.send))
            root.add_widget(row)
            self.log = Label(text="replies appear here", size_hint_y=None, height=200)
            scroll = ScrollView()
            scroll.add_widget(self.log)
            root.add_widget(scroll)
            bridge.on_event(self.show_event)
            bridge.get_full_state("genesis", self.show_state)
            return root

        def repaint(self, widget, value):
            self.background.pos = widget.pos
            self.background.size = widget.size

        def wrap(self, label, size):
            label.text_size = size

        def show_state(self, state):
            parts = [name + " = " + str(state[name])[:60] for name in sorted(state)]
            self.status.text = "genesis\\n" + "\\n".join(parts)

        def show_event(self, event):
            self.log.text = self.log.text + "\\n" + str(event.get("kind"))

        def send(self, button):
            bridge.send(self.entry.text, self.show_reply)

        def show_reply(self, text):
            self.log.text = "reply: " + text
            bridge.get_full_state("genesis", self.show_state)

    return BatOS_EntropicUI_App
"""

SYNTAX_ERROR_UI = """\
def display_yourself(self):
    from kivy.app import App

    class BatOS_EntropicUI_App(App):
        def build(self)
            return None

    return BatOS_EntropicUI_App
"""

NO_APP_CLASS_UI = """\
def display_yourself(self):
    from kivy.app import App

    class SomeOtherApp(App):
        def build(self):
            self.title = "BAT OS Entropic UI"

    return SomeOtherApp
"""

RETURNS_NOTHING_UI = """\
def display_yourself(self):
    from kivy.app import App

    class BatOS_EntropicUI_App(App):
        def build(self):
            self.title = "BAT OS Entropic UI"

    return None
"""

BUILD_RAISES_UI = """\
def display_yourself(self):
    from kivy.app import App
    from kivy.uix.label import Label

    class BatOS_EntropicUI_App(App):
        def build(self):
            self.title = "BAT OS Entropic UI"
            missing = {"slots": 0}
            return Label(text=missing["entropy"])

    return BatOS_EntropicUI_App
"""

CALLBACK_RAISES_UI = """\
def display_yourself(self):
    from kivy.app import App
    from kivy.uix.label import Label

    class BatOS_EntropicUI_App(App):
        def build(self):
            self.title = "BAT OS Entropic UI"
            self.status = Label(text="waiting")
            bridge.get_full_state("genesis", self.show_state)
            return self.status

        def show_state(self, state):
            self.status.text = state["no_such_slot"]

    return BatOS_EntropicUI_App
"""
