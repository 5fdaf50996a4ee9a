"""Self selectors <-> Python slot names."""

from __future__ import annotations

import pytest

from batos_core.selfsyntax.selectors import python_to_self, selector_arity, self_to_python


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
