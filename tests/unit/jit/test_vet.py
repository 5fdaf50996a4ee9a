"""Vetting accepts method-shaped source and rejects the rest with a one-line reason."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from batos_core.jit.errors import VetError
from batos_core.jit.signature import signature_for
from batos_core.jit.trial_child import REMOVED_BUILTINS, safe_builtins
from batos_core.jit.vet import FORBIDDEN_NAMES, VetPolicy, vet
from batos_core.sandbox.namespace import SAFE_BUILTIN_NAMES
from batos_core.selectors import shown_selector, slot_name


def reject(source: str, selector: str, policy: VetPolicy | None = None) -> VetError:
    with pytest.raises(VetError) as info:
        vet(source, selector, policy)
    assert "\n" not in str(info.value)
    return info.value


def test_a_plain_method_passes() -> None:
    vetted = vet("import math\n\ndef hyp_(self, hyp):\n    return math.hypot(self.x, hyp)\n", "hyp:")
    assert vetted.selector == "hyp_"
    assert vetted.imports == ("math",)
    assert vetted.signature.header() == "def hyp_(self, hyp):"


def test_signature_names_one_parameter_per_keyword_part() -> None:
    assert signature_for("gcd:with:").header() == "def gcd_with_(self, gcd, with_):"
    assert signature_for("sumOf_").header() == "def sumOf_(self, sum_of):"
    assert signature_for("at:at:").parameters == ("at", "at2")
    assert signature_for("printString").arity == 0
    assert signature_for("setSlot_value_").self_form == "setSlot:value:"
    with pytest.raises(ValueError):
        signature_for("_p_changed")


def test_parameter_names_are_free_but_the_count_is_not() -> None:
    vet("def gcd_with_(self, a, b):\n    return a\n", "gcd_with_")
    error = reject("def gcd_with_(self, a):\n    return a\n", "gcd_with_")
    assert "takes 1 parameters besides self but gcd:with: sends 2 arguments" in error.reason
    assert "def gcd_with_(self, gcd, with_):" in error.reason
    assert error.lineno == 1


def test_star_args_names_the_exact_signature() -> None:
    error = reject("def sumOf_(self, *args):\n    return sum(args)\n", "sumOf_")
    assert str(error) == (
        "line 1: *args is not allowed: sumOf: sends 1 argument; write exactly def sumOf_(self, sum_of):"
    )


@pytest.mark.parametrize(
    ("source", "fragment", "line"),
    [
        ("def f(self):\n    return 1\ndef g(self):\n    return 2\n", "2 top-level functions", 3),
        ("def g(self):\n    return 1\n", "named g but must be named f", 1),
        ("def f(x):\n    return 1\n", "first parameter must be self", 1),
        ("def f(self, *, k):\n    return k\n", "keyword-only", 1),
        ("async def f(self):\n    return 1\n", "async def", 1),
        ("@staticmethod\ndef f(self):\n    return 1\n", "decorators", 2),
        ("x = 1\ndef f(self):\n    return x\n", "found a assign statement", 1),
        ("print('hi')\n", "found a expr statement", 1),
        ("", "no function definition", 1),
        ("def f(self):\n    return (1\n", "syntax error", 2),
    ],
)
def test_shape_rules(source: str, fragment: str, line: int) -> None:
    error = reject(source, "f")
    assert fragment in error.reason
    assert error.lineno == line


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("return ().__class__", "attribute __class__"),
        ("return self._p_changed", "_p_changed is not allowed"),
        ("self._v_cache = 1\n    return self", "attribute _v_cache"),
        ("return self._secret", "attribute _secret"),
        ("return __builtins__", "name __builtins__"),
        ("return __import__('os')", "__import__ is not allowed"),
        ("return eval('1')", "eval is not allowed"),
        ("f = exec\n    return f", "exec is not allowed"),
        ("return open('x')", "open is not allowed"),
        ("return globals()", "globals is not allowed"),
        ("return vars(self)", "vars is not allowed"),
        ("return input()", "input is not allowed"),
        ("breakpoint()\n    return 1", "breakpoint is not allowed"),
        ("return getattr(self, '__dict__')", "getattr of __dict__"),
        ("return getattr(self, '_p_jar')", "getattr of _p_jar"),
        ("name = 'x'\n    return getattr(self, name)", "computed attribute name"),
        ("import operator\n    return operator.attrgetter('__class__')(self)", "reserved"),
        ("return '{0.__class__}'.format(self)", "reserved underscore"),
        ("return (i for i in ()).gi_frame", "gi_frame"),
        ("import os\n    return os.getcwd()", "import of os is not allowed"),
        ("from subprocess import run\n    return run", "import of subprocess"),
        ("import ctypes\n    return 1", "import of ctypes"),
        ("from math import *\n    return pi", None),  # star import inside a function: syntax error
        ("global counter\n    return 1", "global statements"),
        ("x = 1\n    def g():\n        nonlocal x\n    return x", "nonlocal statements"),
    ],
)
def test_escape_routes_are_rejected(body: str, fragment: str | None) -> None:
    error = reject(f"def f(self):\n    {body}\n", "f")
    if fragment is not None:
        assert fragment in error.reason
    assert error.lineno >= 1


def test_reasons_name_the_offending_line() -> None:
    source = "def f(self):\n    x = 1\n    y = 2\n    return x.__class__\n"
    assert str(reject(source, "f")).startswith("line 4: attribute __class__")


def test_allowed_imports_and_submodules() -> None:
    vet("from collections.abc import Mapping\ndef f(self):\n    return Mapping\n", "f")
    vet("def f(self):\n    import random, statistics\n    return random.random()\n", "f")
    policy = VetPolicy(allowed_imports=frozenset({"math"}))
    assert (
        "allowed modules: math" in reject("def f(self):\n    import json\n    return 1\n", "f", policy).reason
    )


def test_ordinary_underscore_free_code_is_not_flagged() -> None:
    source = (
        "def describe_(self, describe):\n"
        "    '''A docstring.'''\n"
        "    parts = '_'.join(str(p) for p in describe)\n"
        "    return f'{self.name}: {parts}' if hasattr(self, 'name') else parts\n"
    )
    vet(source, "describe:")


def test_ui_policy_allows_kivy_and_requires_the_app_class() -> None:
    source = (
        "def display_yourself(self):\n"
        "    from kivy.app import App\n"
        "    from kivy.uix.label import Label\n"
        "    class BatOS_EntropicUI_App(App):\n"
        "        def __init__(self, **kwargs):\n"
        "            super().__init__(**kwargs)\n"
        "        def build(self):\n"
        "            self.title = 'BAT OS Entropic UI'\n"
        "            return Label(text='hi')\n"
        "    return BatOS_EntropicUI_App\n"
    )
    assert vet(source, "display_yourself", VetPolicy.ui()).imports == ("kivy.app", "kivy.uix.label")
    assert "import of kivy.app" in reject(source, "display_yourself").reason
    no_class = "def display_yourself(self):\n    return 1\n"
    assert "BatOS_EntropicUI_App" in reject(no_class, "display_yourself", VetPolicy.ui()).reason


def test_oversized_source_is_rejected() -> None:
    source = "def f(self):\n    return 1\n" + "# pad\n" * 5000
    assert "longer than" in reject(source, "f").reason


# -- display_yourself as chat models write it: the App class at the top level --

TOP_LEVEL_UI = '''\
from kivy.app import App
from kivy.uix.label import Label  # shows the state
import json


class BatOS_EntropicUI_App(App):
    """The UI."""

    title = "BAT OS Entropic UI"
    layout = """
BoxLayout:
    Label:
        text: 'kept as written'
"""

    def build(self):
        self.status = Label(text="...")
        bridge.get_full_state("genesis", self.show_state)
        return self.status

    def show_state(self, state):
        self.status.text = json.dumps(state)


def display_yourself(self):
    return BatOS_EntropicUI_App


if __name__ == "__main__":
    BatOS_EntropicUI_App().run()
'''

ENCLOSED_UI = '''\
def display_yourself(self):
    from kivy.app import App
    from kivy.uix.label import Label  # shows the state
    import json

    class BatOS_EntropicUI_App(App):
        """The UI."""

        title = "BAT OS Entropic UI"
        layout = """
BoxLayout:
    Label:
        text: 'kept as written'
"""

        def build(self):
            self.status = Label(text="...")
            bridge.get_full_state("genesis", self.show_state)
            return self.status

        def show_state(self, state):
            self.status.text = json.dumps(state)

    return BatOS_EntropicUI_App
'''


def vet_ui(source: str) -> str:
    return vet(source, "display_yourself", VetPolicy.ui()).source


def reject_ui(source: str) -> VetError:
    return reject(source, "display_yourself", VetPolicy.ui())


def test_a_top_level_app_class_is_enclosed_into_the_function() -> None:
    vetted = vet(TOP_LEVEL_UI, "display_yourself", VetPolicy.ui())
    # Imports and the class move inside, in order and as written (the KV string's
    # lines are a value and keep their indentation); the main guard is dropped.
    assert vetted.source == ENCLOSED_UI
    assert vetted.imports == ("kivy.app", "kivy.uix.label", "json")
    assert vet_ui(ENCLOSED_UI) == ENCLOSED_UI  # the accepted form is left as it is


def test_the_enclosed_function_returns_the_class_when_run() -> None:
    namespace: dict[str, object] = {"bridge": None}
    exec(compile(vet_ui(TOP_LEVEL_UI), "<ui>", "exec"), namespace)
    assert not any(isinstance(value, type) for value in namespace.values())  # nothing defined at load
    app_class = namespace["display_yourself"](None)  # type: ignore[operator]
    assert isinstance(app_class, type) and app_class.__name__ == "BatOS_EntropicUI_App"
    assert app_class.layout.startswith("\nBoxLayout:\n    Label:\n")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "source",
    [
        # the function first, the class after it; the App imported as kivy.app.App
        "import kivy.app\ndef display_yourself(self):\n    return BatOS_EntropicUI_App\n"
        "class BatOS_EntropicUI_App(kivy.app.App):\n    title = 'x'\n",
        # the body on the def line, and a function docstring
        "from kivy.app import App\nclass BatOS_EntropicUI_App(App):\n    pass\n"
        "def display_yourself(self): return BatOS_EntropicUI_App\n",
        "from kivy.app import App as Base\nclass BatOS_EntropicUI_App(Base):\n    pass\n"
        "def display_yourself(self):\n    '''The UI.'''\n    return BatOS_EntropicUI_App\n",
        # tab indentation is rebuilt from the syntax tree
        "from kivy.app import App\nclass BatOS_EntropicUI_App(App):\n\tdef build(self):\n\t\treturn None\n"
        "def display_yourself(self):\n\treturn BatOS_EntropicUI_App\n",
    ],
)
def test_other_layouts_of_the_shape_are_enclosed(source: str) -> None:
    enclosed = vet_ui(source)
    tree = ast.parse(enclosed)
    assert [type(node) for node in tree.body] == [ast.FunctionDef]
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    assert any(isinstance(node, ast.ClassDef) for node in function.body)
    assert isinstance(function.body[-1], ast.Return)
    assert vet_ui(enclosed) == enclosed


@pytest.mark.parametrize(
    ("top", "fragment", "line"),
    [
        # statements that would run when the source is defined
        ("x = 1\n", "remove the top-level statement `x = 1`", 1),
        ("print('loaded')\n", "statement `print('loaded')`", 1),
        ("bridge.send('genesis wipe', None)\n", "statement `bridge.send(", 1),
        ("for i in range(3):\n    pass\n", "statement `for i in range(3):`", 1),
        ("with open('x') as f:\n    pass\n", "statement `with open(", 1),
        ("try:\n    pass\nexcept Exception:\n    pass\n", "statement `try:`", 1),
        ("if True:\n    import math\n", "statement `if True:`", 1),
        # a main guard with an else runs the else: not a main guard
        ("if __name__ == '__main__':\n    pass\nelse:\n    pass\n", "statement `if __name__", 1),
    ],
)
def test_top_level_code_beside_the_class_is_refused(top: str, fragment: str, line: int) -> None:
    error = reject_ui(top + TOP_LEVEL_UI)
    assert fragment in error.reason
    assert "inside it" in error.reason  # tells the model what to write instead
    assert error.lineno == line


def test_a_main_guard_that_is_not_last_is_refused() -> None:
    source = TOP_LEVEL_UI.replace(
        "\n\ndef display_yourself", "\nif __name__ == '__main__':\n    pass\n\ndef display_yourself"
    )
    assert "remove the top-level statement `if __name__ ==" in reject_ui(source).reason


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        # a second class, before or after
        (
            lambda s: "from kivy.uix.label import Label\nclass Helper(Label):\n    pass\n" + s,
            "2 top-level classes (Helper, BatOS_EntropicUI_App)",
        ),
        (
            lambda s: s.replace("\nif __name__", "class Other(App):\n    pass\nif __name__"),
            "2 top-level classes",
        ),
        # not kivy's App
        (
            lambda s: s.replace("BatOS_EntropicUI_App(App)", "BatOS_EntropicUI_App(Label)"),
            "subclass of kivy's App",
        ),
        (lambda s: s.replace("BatOS_EntropicUI_App(App)", "BatOS_EntropicUI_App"), "subclass of kivy's App"),
        (
            lambda s: s.replace("BatOS_EntropicUI_App(App)", "BatOS_EntropicUI_App(App, Label)"),
            "nothing else",
        ),
        (
            lambda s: s.replace("from kivy.app import App", "from collections import OrderedDict as App"),
            "subclass of kivy's App",
        ),
        (lambda s: s.replace("from kivy.app import App\n", ""), "subclass of kivy's App"),
        (
            lambda s: s.replace("BatOS_EntropicUI_App(App)", "BatOS_EntropicUI_App(App, metaclass=type)"),
            "metaclass",
        ),
        (lambda s: s.replace("class BatOS", "@print\nclass BatOS"), "class decorator"),
        # named otherwise than the prompt asks
        (
            lambda s: s.replace("class BatOS_EntropicUI_App", "class MyApp"),
            "must be named BatOS_EntropicUI_App",
        ),
        # not the function asked for
        (
            lambda s: s.replace("def display_yourself(self)", "def show(self)"),
            "must be named display_yourself",
        ),
        (lambda s: s.replace("def display_yourself(self)", "def display_yourself(self, x)"), "parameters"),
        (
            lambda s: s.replace("\nif __name__", "def helper(self):\n    return 1\nif __name__"),
            "2 top-level functions",
        ),
    ],
)
def test_the_shape_is_exactly_one_app_class_and_the_function(change: Any, fragment: str) -> None:
    assert fragment in reject_ui(change(TOP_LEVEL_UI)).reason


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("import json", "import os", "import of os is not allowed"),
        ("self.status = Label", "self.status = eval", "eval is not allowed"),
        ('title = "BAT OS Entropic UI"', "title = ().__class__", "attribute __class__"),
        ("json.dumps(state)", "str(self._p_jar)", "attribute _p_jar"),
        ("return BatOS_EntropicUI_App", "return globals()", "globals is not allowed"),
    ],
)
def test_the_ordinary_rules_apply_and_name_the_models_own_line(old: str, new: str, fragment: str) -> None:
    source = TOP_LEVEL_UI.replace(old, new)
    error = reject_ui(source)
    assert fragment in error.reason
    assert new in source.splitlines()[error.lineno - 1]


def test_a_class_without_the_function_gets_the_function_that_returns_it() -> None:
    without = TOP_LEVEL_UI.replace("def display_yourself(self):\n    return BatOS_EntropicUI_App\n\n\n", "")
    assert "def display_yourself" not in without
    assert vet_ui(without) == ENCLOSED_UI


@pytest.mark.parametrize(
    "usage",
    [
        # what qwen2.5-coder-1.5b wrote over the openai backend, attempt after attempt
        "display_yourself(BatOS_EntropicUI_App())",
        "BatOS_EntropicUI_App().run()",
        "display_yourself(None)().run()",
        # dropped, so its arguments never run either
        "display_yourself(eval('1'))",
    ],
)
def test_trailing_usage_calls_are_dropped_as_they_never_run(usage: str) -> None:
    source = TOP_LEVEL_UI.replace('\nif __name__ == "__main__":\n    BatOS_EntropicUI_App().run()\n', usage)
    assert vet_ui(source) == ENCLOSED_UI
    without_function = source.replace("def display_yourself(self):\n    return BatOS_EntropicUI_App\n", "")
    assert vet_ui(without_function) == ENCLOSED_UI


def before_the_guard(statement: str) -> str:
    return TOP_LEVEL_UI.replace("\nif __name__", f"{statement}\nif __name__")


@pytest.mark.parametrize(
    ("source", "statement"),
    [
        # a usage call before the function or the class is not at the end
        (
            TOP_LEVEL_UI.replace(
                "\n\ndef display_yourself", "\nBatOS_EntropicUI_App().run()\ndef display_yourself"
            ),
            "BatOS_EntropicUI_App().run()",
        ),
        # at the end, but more than a call of the function or the class
        (before_the_guard("print(display_yourself(None))"), "print(display_yourself(None))"),
        (before_the_guard("app = BatOS_EntropicUI_App()"), "app = BatOS_EntropicUI_App()"),
        (before_the_guard("bridge.send('x', display_yourself)"), "bridge.send('x', display_yourself)"),
    ],
)
def test_other_calls_at_the_top_level_are_refused(source: str, statement: str) -> None:
    assert f"remove the top-level statement `{statement}`" in reject_ui(source).reason


def test_the_main_guard_is_dropped_unvetted_because_it_never_runs() -> None:
    source = TOP_LEVEL_UI.replace("BatOS_EntropicUI_App().run()", "import os\n    os.system('x')")
    assert "os.system" not in vet_ui(source)


def test_a_top_level_class_is_still_refused_for_ordinary_methods() -> None:
    source = "class Helper:\n    pass\ndef f(self):\n    return Helper()\n"
    assert "found a classdef statement" in reject(source, "f").reason


def test_an_allowed_module_used_without_its_import_is_imported_for_it() -> None:
    source = "def gcd_with_(self, a, b):\n    return math.gcd(a, b)\n"
    vetted = vet(source, "gcd:with:")
    assert vetted.source == "import math\n" + source
    assert "math" in vetted.imports


def test_only_free_allowed_module_names_are_imported() -> None:
    # A name bound by the method (a parameter, an assignment, its own import)
    # is not a module to import; a free name off the allow-list stays free.
    bound = "def f_(self, math):\n    re = 3\n    return math + re + os.sep\n"
    assert vet(bound, "f:").source == bound
    own = "def f(self):\n    import math as m\n    return m.pi\n"
    assert vet(own, "f").source == own


def test_a_ui_that_uses_kivy_widgets_it_never_imported_gets_their_imports() -> None:
    # The 1.5B over the openai backend (no prefill) used TextInput, App and
    # BoxLayout without importing them; vetting under the UI policy adds them.
    source = (
        "def display_yourself(self):\n"
        "    class BatOS_EntropicUI_App(App):\n"
        "        def build(self):\n"
        "            return BoxLayout()\n"
        "    return BatOS_EntropicUI_App\n"
    )
    vetted = vet(source, "display_yourself", VetPolicy.ui())
    assert vetted.source.startswith(
        "from kivy.app import App\nfrom kivy.uix.boxlayout import BoxLayout\ndef display_yourself"
    )
    # The default policy does not allow kivy: the names stay free.
    plain = "def f(self):\n    return Label\n"
    assert vet(plain, "f").source == plain


@pytest.mark.parametrize("name", REMOVED_BUILTINS)
def test_every_builtin_the_trial_removes_is_refused_by_name(name: str) -> None:
    source = f"def peek(self):\n    return {name}\n"
    for policy in (VetPolicy.default(), VetPolicy.ui()):
        assert f"{name} is not allowed" in str(reject(source, "peek", policy))


def test_the_banned_builtins_have_one_home_and_the_sandbox_hands_none_out_as_is() -> None:
    assert FORBIDDEN_NAMES == frozenset(REMOVED_BUILTINS)
    assert not set(REMOVED_BUILTINS) & set(safe_builtins([])) - {"__import__"}
    # The restricted sandbox's allow-list is a separate, narrower list: none of these on it.
    assert set(REMOVED_BUILTINS).isdisjoint(SAFE_BUILTIN_NAMES)


def test_the_signature_maps_selectors_as_the_object_model_does() -> None:
    # Self's capitalised continuation: a Self send of at:Put: looks up at_put_, so the JIT writes that.
    assert signature_for("at:Put:").selector == slot_name("at:Put:") == "at_put_"
    assert signature_for("do_it_").self_form == shown_selector("do_it_", 2) == "do:it:"
