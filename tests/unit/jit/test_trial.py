"""The trial runs a method once in a sandboxed subprocess and reports what happened."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from batos_core.jit.signature import signature_for
from batos_core.jit.snapshot import ReceiverSnapshot
from batos_core.jit.trial import TrialPolicy, TrialResult, run_trial, to_wire
from batos_core.jit.trial_child import OPAQUE_TAG
from batos_core.jit.vet import VettedMethod, vet

FAST = TrialPolicy(cpu_seconds=1, wall_seconds=2.0)
#: The process wall alone (what a display_yourself trial runs under): these
#: tests reach the file system on purpose, which restricted code cannot.
UNRESTRICTED = TrialPolicy(cpu_seconds=1, wall_seconds=2.0, restricted=False)
ACCOUNT = ReceiverSnapshot(
    name="account",
    data_slots={"balance": 100, "owner": "Ann", "friend": object()},
    methods={"double_": "def double_(self, double):\n    return 2 * double\n"},
)


def trial(source: str, selector: str, *args: object, policy: TrialPolicy = FAST) -> TrialResult:
    return run_trial(vet(source, selector), ACCOUNT, args, policy)


def unvetted(source: str, selector: str) -> VettedMethod:
    """Source the vetter would reject: the trial must contain it on its own."""
    return VettedMethod(selector, source, signature_for(selector), ())


def test_a_returned_value_is_reported() -> None:
    result = trial("def sumOf_(self, sum_of):\n    return sum(sum_of)\n", "sumOf_", [1, 2, 3])
    assert result.ok and result.value_repr == "6" and result.value_type == "int"
    assert result.error_name is None and result.traceback is None
    assert 0 < result.call_s < result.duration_s


def test_slots_arrive_as_values_and_writes_stay_in_the_copy() -> None:
    source = "def deposit_(self, deposit):\n    self.balance += deposit\n    return self.balance\n"
    assert trial(source, "deposit_", 50).value_repr == "150"
    assert ACCOUNT.data_slots["balance"] == 100


def test_statement_like_methods_return_the_receiver() -> None:
    result = trial("def touch(self):\n    self.touched = True\n    return self\n", "touch")
    assert result.ok and result.value_repr == "<receiver account>"


def test_receiver_methods_and_the_method_itself_are_callable() -> None:
    assert (
        trial("def quad(self):\n    return self.double_(self.double_(self.balance))\n", "quad").value_repr
        == "400"
    )
    source = "def fact_(self, fact):\n    return 1 if fact < 2 else fact * self.fact_(fact - 1)\n"
    assert trial(source, "fact_", 5).value_repr == "120"


def test_a_raising_method_reports_its_generated_frames() -> None:
    source = "def avg(self):\n    items = []\n    return sum(items) / len(items)\n"
    result = trial(source, "avg")
    assert not result.ok
    assert (result.error_name, result.error_message) == ("ZeroDivisionError", "division by zero")
    assert result.traceback == (
        '  File "<batos avg>", line 3, in avg\n'
        "    return sum(items) / len(items)\n"
        "ZeroDivisionError: division by zero"
    )
    assert "trial_child" not in result.traceback


def test_a_missing_slot_names_it() -> None:
    result = trial("def f(self):\n    return self.nope\n", "f")
    assert result.error_name == "AttributeError"
    assert result.error_message == "the receiver has no slot named nope"


def test_printing_instead_of_returning_fails_the_trial() -> None:
    result = trial("def greet_(self, greet):\n    print('Hello,', greet)\n", "greet_", "Bob")
    assert not result.ok and result.printed_instead_of_returning
    assert result.stdout == "Hello, Bob\n"
    assert result.error_message == "the method returned None and printed 'Hello, Bob'"


def test_printing_and_returning_is_fine() -> None:
    result = trial("def f(self):\n    print('working')\n    return 3\n", "f")
    assert result.ok and result.stdout == "working\n"


def test_returning_none_silently_is_a_result() -> None:
    result = trial("def f(self):\n    return None\n", "f")
    assert result.ok and result.value_repr == "None"


def test_objects_travel_as_placeholders() -> None:
    result = trial("def f(self):\n    return self.friend.balance\n", "f")
    assert result.inconclusive and result.error_name == "PlaceholderAccess"
    shown = trial("def f(self):\n    return repr(self.friend)\n", "f").value_repr or ""
    assert shown.startswith("'<object object")


def test_wire_encoding_keeps_plain_values_and_hides_objects() -> None:
    from collections import UserList

    marker = to_wire(object())
    assert isinstance(marker, tuple) and marker[0] == OPAQUE_TAG and marker[2] == "object"
    assert to_wire({"a": (1, b"x", None), 2: UserList([1.5])}) == {"a": (1, b"x", None), 2: [1.5]}
    deep: list[object] = []
    deep.append(deep)  # a cycle ends in a placeholder instead of recursing forever
    assert isinstance(to_wire(deep), list)


def test_the_trial_runs_in_a_fresh_temp_dir() -> None:
    before = set(os.listdir("."))
    source = "def f(self):\n    import json\n    return 1\n"
    assert trial(source, "f").ok
    method = unvetted("def f(self):\n    import os\n    return os.getcwd()\n", "f")
    cwd = run_trial(method, ACCOUNT, (), UNRESTRICTED).value_repr or ""
    assert "batos-trial-" in cwd and not Path(cwd.strip("'")).exists()  # removed afterwards
    assert set(os.listdir(".")) == before


def test_writing_inside_the_temp_dir_is_allowed() -> None:
    source = (
        "def f(self):\n    import io\n    with io.open('scratch.txt', 'w') as fh:\n"
        "        fh.write('ok')\n    return 1\n"
    )
    assert run_trial(unvetted(source, "f"), ACCOUNT, (), UNRESTRICTED).ok


def test_ui_policy_provides_the_bridge_stub() -> None:
    policy = TrialPolicy(cpu_seconds=1, wall_seconds=2.0, stub_globals=("bridge",))
    method = vet("def f(self):\n    bridge.send('x', None)\n    return repr(bridge)\n", "f")
    assert run_trial(method, ACCOUNT, (), policy).value_repr == "'<stub bridge>'"


WIRED_UI = """\
def display_yourself(self):
    from kivy.app import App
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    class BatOS_EntropicUI_App(App):
        title = "BAT OS Entropic UI"

        def build(self):
            root = BoxLayout(orientation="vertical")
            status = Label(text="...")
            entry = TextInput()
            replies = Label(text="")

            def show_state(state):
                status.text = ", ".join(name + ": " + str(state[name]) for name in sorted(state))

            def show_reply(reply):
                replies.text = reply

            def on_send(button):
                bridge.send(entry.text, show_reply)

            root.add_widget(status)
            root.add_widget(entry)
            root.add_widget(Button(text="Send", on_press=on_send))
            root.add_widget(replies)
            bridge.get_full_state("genesis", show_state)
            return root

    return BatOS_EntropicUI_App
"""


def _ui_trial(source: str) -> TrialResult:
    if importlib.util.find_spec("kivy") is None:  # not importing it: kivy writes ~/.kivy on import
        pytest.skip("kivy is not installed")
    from batos_core.jit.vet import VetPolicy

    return run_trial(vet(source, "display_yourself", VetPolicy.ui()), ACCOUNT, (), TrialPolicy.ui())


@pytest.mark.slow
def test_a_ui_that_builds_and_uses_the_bridge_passes_the_ui_check() -> None:
    result = _ui_trial(WIRED_UI)
    assert result.ok, result
    assert "BatOS_EntropicUI_App" in (result.value_repr or "")
    assert result.ui_check_skipped == ""  # the widget tree was built (offscreen window)


@pytest.mark.slow
def test_the_ui_check_reports_a_root_widget_that_has_a_parent() -> None:
    wrapped = "            outer = BoxLayout()\n            outer.add_widget(root)\n            return root\n"
    source = WIRED_UI.replace("            return root\n", wrapped)
    result = _ui_trial(source)
    assert not result.ok
    assert result.error_name == "UICheckFailed"
    assert "already inside a BoxLayout" in (result.error_message or "")


@pytest.mark.slow
def test_the_ui_check_requires_the_state_request_and_a_send() -> None:
    no_state = _ui_trial(WIRED_UI.replace('bridge.get_full_state("genesis", show_state)', "pass"))
    assert no_state.error_name == "UICheckFailed"
    assert "bridge.get_full_state" in (no_state.error_message or "")
    no_send = _ui_trial(WIRED_UI.replace("bridge.send(entry.text, show_reply)", "pass"))
    assert no_send.error_name == "UICheckFailed"
    assert "bridge.send" in (no_send.error_message or "")


@pytest.mark.slow
def test_the_ui_check_requires_the_state_to_be_shown() -> None:
    # `make demo` once installed a UI whose only label read this: it had asked for the state.
    source = WIRED_UI.replace(
        'status.text = ", ".join(name + ": " + str(state[name]) for name in sorted(state))',
        'status.text = "Status not available"',
    )
    result = _ui_trial(source)
    assert result.error_name == "UICheckFailed", result
    assert "no widget shows it" in (result.error_message or "")
    assert "'Status not available'" in (result.error_message or "")
    names_only = WIRED_UI.replace('name + ": " + str(state[name])', "name")
    assert _ui_trial(names_only).error_name == "UICheckFailed"  # names without a single value


@pytest.mark.slow
def test_an_error_in_a_ui_callback_names_its_line() -> None:
    result = _ui_trial(
        WIRED_UI.replace(
            '", ".join(name + ": " + str(state[name]) for name in sorted(state))', "state['missing']"
        )
    )
    assert result.error_name == "KeyError"
    assert "status.text = state['missing']" in (result.traceback or "")


def test_the_child_report_encoder_is_valid_json() -> None:
    import json

    from batos_core.jit.trial_child import to_json

    report = {"s": 'quote " back \\ nl \n tab \t nul \x00 é 漢 🦇', "n": [1, 2.5, None, True, False], "e": {}}
    assert json.loads(to_json(report)) == report
    assert json.loads(to_json({"x": float("nan")})) == {"x": None}


def trial_children() -> list[int]:
    """Pids of this process's live trial children (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # not a process, or gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == os.getpid() and state != "Z" and b"trial_child.py" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_the_spare_child_is_used_and_stopped() -> None:
    from batos_core.jit.trial import prewarm, shutdown

    prewarm()
    assert len(trial_children()) == 1
    assert trial("def f(self):\n    return 7\n", "f").value_repr == "7"
    assert len(trial_children()) == 1  # the used child is gone, a fresh spare waits
    shutdown()
    assert trial_children() == []
    assert trial("def f(self):\n    return 8\n", "f").value_repr == "8"  # works cold, too
    shutdown()


def test_the_batos_api_global_works_on_the_throwaway_receiver() -> None:
    source = (
        "def rename_(self, rename):\n"
        "    batos.set_slot(self, 'owner', rename)\n"
        "    return [batos.get_slot(self, 'owner'), batos.responds_to(self, 'double_'),\n"
        "            sorted(batos.slot_names(self))]\n"
    )
    result = trial(source, "rename_", "Bob")
    assert result.value_repr == "['Bob', True, ['balance', 'friend', 'owner']]", result


@pytest.mark.slow
def test_an_unstarted_app_instance_and_self_bridge_are_accepted() -> None:
    # Small models end with `return TheApp()` and write `self.bridge`; both work in the UI process.
    source = WIRED_UI.replace("    return BatOS_EntropicUI_App\n", "    return BatOS_EntropicUI_App()\n")
    source = source.replace('bridge.get_full_state("genesis"', 'self.bridge.get_full_state("genesis"')
    result = _ui_trial(source)
    assert result.ok, result


def test_the_trial_reports_behaviour_and_whether_the_call_did_nothing() -> None:
    double = trial("def f_(self, n):\n    return n * 2\n", "f_", 4)
    also = trial("def f_(self, n):\n    return n + n\n", "f_", 4)
    floaty = trial("def f_(self, n):\n    return n * 2.0\n", "f_", 4)
    assert double.behaviour and double.behaviour == also.behaviour
    assert floaty.behaviour != double.behaviour  # 8.0 is not 8
    deposit = "def f_(self, n):\n    self.balance += n\n    return self\n"
    assert trial(deposit, "f_", 5).behaviour != trial(deposit, "f_", 6).behaviour  # slot changes count
    assert not trial(deposit, "f_", 5).did_nothing
    idle = trial("def f_(self, n):\n    return self\n", "f_", 5)
    assert idle.ok and idle.did_nothing
    assert not trial("def f_(self, n):\n    return None\n", "f_", 5).did_nothing


def test_checks_run_after_the_call_and_never_fail_the_trial() -> None:
    from batos_core.jit.candidates import check_selector, check_sources

    reply = (
        "```python\nassert result == 150\nassert self.balance == 150\nassert result == 0\n"
        "assert self.no_such_slot\nassert self.loop_forever_() is None\n```"
    )
    checks = check_sources(reply, 1, ["n"], limit=5)
    source = "def deposit_(self, n):\n    self.balance += n\n    return self.balance\n"
    method = vet(source, "deposit_")
    receiver = ReceiverSnapshot(
        name="account",
        data_slots={"balance": 100},
        methods={"loop_forever_": "def loop_forever_(self):\n    while True:\n        pass\n"},
    )
    policy = TrialPolicy(cpu_seconds=4, wall_seconds=5.0)
    result = run_trial(method, receiver, (50,), policy, checks=checks, check_selector=check_selector(1))
    assert result.ok and result.value_repr == "150", result
    assert result.checks == (True, True, False, False, False)
