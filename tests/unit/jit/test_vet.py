"""Vetting accepts method-shaped source and rejects the rest with a one-line reason."""

from __future__ import annotations

import pytest

from batos_core.jit.errors import VetError
from batos_core.jit.signature import signature_for
from batos_core.jit.vet import VetPolicy, vet


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
