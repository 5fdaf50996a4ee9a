"""Python slot names back to Self selectors: exact for methods, one rule for both modules."""

from __future__ import annotations

import pytest

from batos_core.daemon.context import DaemonInfo, HandlerContext
from batos_core.daemon.handlers.objects import handle_complete, handle_get_full_state
from batos_core.daemon_config import DaemonConfig
from batos_core.image import Session
from batos_core.objects import Method, UvmObject, python_to_self, set_slot, slot_selector
from batos_core.protocol.messages import CompleteRequest, GetFullStateRequest
from batos_core.selfsyntax import selectors as repl_selectors

DO_IT_1 = Method("do_it_", "def do_it_(self, x):\n    return x\n")
DO_IT_2 = Method("do_it_", "def do_it_(self, a, b):\n    return a + b\n")


@pytest.mark.parametrize(
    ("name", "arity", "expected"),
    [
        ("do_it_", 1, "do_it:"),
        ("do_it_", 2, "do:it:"),
        ("setSlot_value_", 2, "setSlot:value:"),
        ("printString", 0, "printString"),
        ("do_it_", None, "do:it:"),  # no arity: each `_`-terminated part is a keyword
        ("do_it_", 3, "do:it:"),  # impossible arity: the name's shape decides
    ],
)
def test_python_to_self(name: str, arity: int | None, expected: str) -> None:
    assert python_to_self(name, arity) == expected


@pytest.mark.parametrize("arity", [1, 2])
def test_with_an_arity_both_selector_modules_agree(arity: int) -> None:
    assert python_to_self("do_it_", arity) == repl_selectors.python_to_self("do_it_", arity)


def test_a_method_knows_its_arity_and_so_its_selector() -> None:
    assert DO_IT_1.arity == 1 and DO_IT_2.arity == 2
    assert slot_selector("do_it_", DO_IT_1) == "do_it:"
    assert slot_selector("do_it_", DO_IT_2) == "do:it:"
    assert slot_selector("x_y_", 3) == "x:y:"  # a data slot: no arity to go by
    assert Method("broken_", "def broken_(self, x:\n").arity is None


def _ctx(session: Session) -> HandlerContext:
    return HandlerContext(
        session=session,
        config=DaemonConfig(image="unused"),
        info=DaemonInfo(pid=0, image="", started=0.0),
        emit=lambda kind, data: None,
    )


def test_completion_and_state_show_a_method_as_the_repl_parses_it(session: Session) -> None:
    child = UvmObject()
    set_slot(child, "parent*", session.genesis)
    set_slot(session.genesis, "do_it_", DO_IT_1)
    set_slot(child, "run_with_", DO_IT_2)
    session.lobby.child = child
    session.commit()
    ctx = _ctx(session)
    selectors = handle_complete(ctx, CompleteRequest(id="c" * 32, receiver="child")).selectors
    assert "do_it:" in selectors and "run:with:" in selectors
    state = handle_get_full_state(ctx, GetFullStateRequest(id="s" * 32, target="child")).state
    assert state["run_with_"] == "<method run:with: v1>"
