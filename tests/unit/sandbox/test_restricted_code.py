"""Restricted compile + namespace, in process: what a method can and cannot reach.

The daemon's whole path (real miss, trial, later call) is covered by the
escape corpus in tests/security; these pin each guard on its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from batos_core.objects.namespace import restricted_namespace
from batos_core.sandbox.compiler import RestrictedCompileError, compile_restricted_method
from batos_core.sandbox.guards import SandboxViolation


class Thing:
    """A stand-in receiver (not writable: only batos objects and containers are)."""

    def __init__(self) -> None:
        self.count = 1
        self.items = {"a": 1}


def run(source: str, *args: Any) -> Any:
    code = compile_restricted_method(source, "<method m>")
    namespace = restricted_namespace().globals_for()
    exec(code, namespace)
    return namespace["m"](*args)


def refused_at_compile(source: str) -> str:
    with pytest.raises(RestrictedCompileError) as caught:
        compile_restricted_method(source, "<method m>")
    return caught.value.reason


@pytest.mark.parametrize(
    "body",
    [
        "return x._p_jar",
        "return x.__class__",
        "return x.__dict__",
        "_secret = 1\n    return _secret",
        "def g():\n        yield 1\n    return g().gi_frame",
        "return exec('1')",
        "import _thread\n    return 1",
    ],
)
def test_reserved_names_do_not_compile(body: str) -> None:
    assert refused_at_compile(f"def m(x):\n    {body}\n")


@pytest.mark.parametrize(
    "body",
    [
        "g = getattr\n    return g(x, '_' + '_class__')",
        "import functools\n    return functools.reduce(getattr, ['_' + '_dict__'], x)",
        "import operator\n    return operator.attrgetter('_' + '_class__')(x)",
        "import operator\n    return operator.methodcaller('_' + '_reduce__')(x)",
        "return ('{0.' + '_' + '_class__}').format(x)",
        "return str.format('{0._' + '_class__}', x)",
        "return ('{a._' + '_class__}').format_map({'a': x})",
        "def g():\n        yield 1\n    return getattr(g(), 'gi_' + 'code')",
        "return type('X', (dict,), {})",
        "setattr(x, '_' + 'hidden', 1)",
    ],
)
def test_computed_routes_to_reserved_names_raise(body: str) -> None:
    with pytest.raises((SandboxViolation, KeyError)):
        run(f"def m(x):\n    {body}\n", Thing())


def test_format_fields_that_are_public_still_work() -> None:
    assert run("def m(x):\n    return '{0.count} {1[a]}'.format(x, x.items)\n", Thing()) == "1 1"


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ("import statistics\n    return statistics.sys", "sys"),
        ("import fractions\n    return fractions.sys.modules", "sys"),
        ("import random\n    return random.Random._os", None),
        ("import string\n    return string.Formatter", "Formatter"),
        ("import collections\n    return collections.abc.sys", "sys"),
        ("import functools\n    return functools.update_wrapper", "update_wrapper"),
        ("import functools\n    return functools.wraps", "wraps"),
        ("import decimal\n    return decimal.setcontext", "setcontext"),
    ],
)
def test_module_proxies_expose_no_module_outside_the_allow_list(body: str, missing: str | None) -> None:
    source = f"def m(x):\n    {body}\n"
    if missing is None:  # refused at compile time (an underscore name)
        with pytest.raises(RestrictedCompileError):
            run(source, Thing())
        return
    with pytest.raises(AttributeError, match=missing):
        run(source, Thing())


def test_no_proxy_hands_out_a_withheld_or_dangerous_function() -> None:
    import builtins
    import decimal
    import functools
    import operator
    import string
    from types import ModuleType

    dangerous = {
        id(value)
        for value in (
            operator.attrgetter, operator.methodcaller, string.Formatter, functools.update_wrapper,
            functools.wraps, decimal.setcontext, builtins.eval, builtins.exec, builtins.compile,
            builtins.open, builtins.__import__, builtins.getattr, builtins.setattr, builtins.vars,
        )
    }  # fmt: skip
    for name, proxy in restricted_namespace().modules._proxies.items():
        for attribute, value in object.__getattribute__(proxy, "_names").items():
            assert id(value) not in dangerous, f"{name}.{attribute}"
            assert not isinstance(value, ModuleType), f"{name}.{attribute} is a module"


@pytest.mark.parametrize("module", ["os", "sys", "importlib", "io", "ctypes", "subprocess", "pickle"])
def test_imports_outside_the_allow_list_fail(module: str) -> None:
    with pytest.raises(ImportError, match=f"import of {module} is not allowed in a method"):
        run(f"def m(x):\n    import {module}\n    return 1\n", None)


@pytest.mark.parametrize(
    "body",
    [
        "import math\n    math.pi = 3",
        "batos.send = None",
        "import re\n    re.compile(\"a\").flags = 2",
        "type(x).count = 5",
        "x.count = 5",  # a Thing is not a batos object
    ],
)
def test_shared_objects_cannot_be_changed(body: str) -> None:
    with pytest.raises(SandboxViolation):
        run(f"def m(x):\n    {body}\n", Thing())


def test_the_builtins_module_cannot_even_be_named() -> None:
    assert "reserved name" in refused_at_compile("def m(x):\n    import builtins\n    return 1\n")


def test_ordinary_python_works() -> None:
    source = """\
import math
from collections import Counter
import datetime


def m(x):
    total = 0
    for a, (b, c) in [(1, (2, 3))]:
        total += a + b + c
    x["n"] += 1
    words = Counter("a b a".split())
    class Point:
        def __init__(self, v):
            self.v = v
    p = Point(2)
    p.v *= 3
    print("side effect")
    return (total, x["n"], words["a"], p.v, math.gcd(12, 18),
            datetime.datetime.strptime("2020", "%Y").year, isinstance(int, type), printed)
"""
    assert run(source, {"n": 1}) == (6, 2, 2, 6, 6, 2020, True, "side effect\n")


def test_no_module_object_is_ever_returned() -> None:
    proxy = run("import json\ndef m(x):\n    return json.decoder\n", None)
    assert "restricted module" in repr(proxy)
    with pytest.raises(SandboxViolation):
        run("import json\ndef m(x):\n    json.decoder.scanstring = None\n", None)


@pytest.mark.parametrize(
    "body",
    [
        "import collections.abc\n    collections.abc.MutableSequence.register(str)",
        "import collections.abc\n    r = getattr(collections.abc.Mapping, 'regis' + 'ter')",
    ],
)
def test_abstract_base_classes_cannot_be_registered_with(body: str) -> None:
    with pytest.raises(SandboxViolation, match="abstract base class"):
        run(f"def m(x):\n    {body}\n", None)


def test_module_level_containers_are_read_only_copies() -> None:
    with pytest.raises((TypeError, SandboxViolation)):
        run("import json\ndef m(x):\n    json.decoder.BACKSLASH['n'] = 'pwned'\n", None)
    import json.decoder

    assert json.decoder.BACKSLASH["n"] == "\n"


def test_decimal_contexts_are_withheld() -> None:
    with pytest.raises(AttributeError, match="getcontext"):
        run("import decimal\ndef m(x):\n    decimal.getcontext().clear_traps()\n", None)
    assert run("import decimal\ndef m(x):\n    return str(decimal.Decimal(1) / 4)\n", None) == "0.25"
