"""Self selectors <-> Python slot names: the one mapping (`batos_core.selectors`)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from batos_core import selectors
from batos_core.selectors import python_to_self, selector_arity, self_to_python, shown_selector, slot_name


@pytest.mark.parametrize(
    ("self_form", "python"),
    [
        ("foo", "foo"),
        ("printString", "printString"),
        ("setSlot:value:", "setSlot_value_"),
        ("at:", "at_"),
        ("at:Put:", "at_put_"),
        ("+", "+"),
        ("~=", "~="),
        (",", ","),
    ],
)
def test_self_to_python(self_form: str, python: str) -> None:
    assert self_to_python(self_form) == python


@pytest.mark.parametrize(
    ("python", "arity", "self_form"),
    [
        ("foo", 0, "foo"),
        ("print_string", 0, "print_string"),
        ("setSlot_value_", 2, "setSlot:value:"),
        ("at_", 1, "at:"),
        ("do_it_", 1, "do_it:"),
        ("set_x_to_", 2, "set_x:to:"),
        ("+", 1, "+"),
    ],
)
def test_python_to_self(python: str, arity: int, self_form: str) -> None:
    assert python_to_self(python, arity) == self_form


@pytest.mark.parametrize(
    ("python", "arity"),
    [("foo", 1), ("at_", 2), ("+", 0), ("not a name", 0), ("a__", 2), ("x_", -1)],
)
def test_python_to_self_refuses_an_impossible_arity(python: str, arity: int) -> None:
    with pytest.raises(ValueError):
        python_to_self(python, arity)


@pytest.mark.parametrize("selector", ["setSlot:value:", "at:put:", "foo", "x:"])
def test_round_trip(selector: str) -> None:
    python = self_to_python(selector)
    assert python_to_self(python, selector_arity(selector)) == selector


@pytest.mark.parametrize("text", ["", "a:b", "3x", "a b", ":"])
def test_not_a_selector(text: str) -> None:
    with pytest.raises(ValueError):
        self_to_python(text)


@pytest.mark.parametrize(
    ("name", "arity", "expected"),
    [
        ("do_it_", 1, "do_it:"),
        ("do_it_", 2, "do:it:"),
        ("setSlot_value_", 2, "setSlot:value:"),
        ("printString", 0, "printString"),
        ("printString", None, "printString"),
        ("do_it_", None, "do:it:"),  # no arity (a data slot): each `_`-terminated part is a keyword
        ("do_it_", 3, "do:it:"),  # an arity the name cannot take (``*args``): the name's shape decides
        ("odd__name_", None, "odd__name_"),  # no clean keyword name: shown as it is
        ("_p_x", None, "_p_x"),
    ],
)
def test_shown_selector(name: str, arity: int | None, expected: str) -> None:
    assert shown_selector(name, arity) == expected


@pytest.mark.parametrize("arity", [1, 2])
def test_shown_selector_is_exact_with_an_arity_the_name_takes(arity: int) -> None:
    assert shown_selector("do_it_", arity) == python_to_self("do_it_", arity)


@pytest.mark.parametrize(
    ("sent", "name"),
    [
        ("at:Put:", "at_put_"),
        ("setSlot:value:", "setSlot_value_"),
        ("foo:bar", "foo_bar_"),  # no trailing colon: still a keyword name, as clients have sent it
        ("at_put_", "at_put_"),  # already the Python form
        ("foo", "foo"),
        ("+", "+"),
        ("a b", "a b"),  # no selector: unchanged, so a lookup answers SlotNotFound
        ("", ""),
    ],
)
def test_slot_name_maps_what_a_client_sent(sent: str, name: str) -> None:
    assert slot_name(sent) == name


def test_slot_name_refuses_only_bare_colons() -> None:
    with pytest.raises(ValueError):
        slot_name(":")


@pytest.mark.parametrize("selector", ["setSlot:value:", "at:Put:", "foo", "x:", "+"])
def test_exact_and_tolerant_agree_on_every_selector(selector: str) -> None:
    assert slot_name(selector) == self_to_python(selector)


def test_the_module_imports_only_the_standard_library() -> None:
    """The REPL maps selectors client-side, without ZODB, and the object model and
    the Self syntax both import it: it must import neither (nor anything else)."""
    tree = ast.parse(Path(selectors.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    standard = sys.stdlib_module_names | {"__future__"}
    assert imported and all(name.split(".")[0] in standard for name in imported)
