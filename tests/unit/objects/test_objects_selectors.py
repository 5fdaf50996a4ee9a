"""Slot names back to Self selectors: exact for a Method, by its arity (the mapping's
own tests are in tests/unit/test_selectors.py)."""

from __future__ import annotations

from batos_core.daemon.context import DaemonInfo, HandlerContext
from batos_core.daemon.handlers.objects import handle_complete, handle_get_full_state
from batos_core.daemon_config import DaemonConfig
from batos_core.image import Session
from batos_core.objects import Method, UvmObject, set_slot, slot_selector
from batos_core.protocol.messages import CompleteRequest, GetFullStateRequest

DO_IT_1 = Method("do_it_", "def do_it_(self, x):\n    return x\n")
DO_IT_2 = Method("do_it_", "def do_it_(self, a, b):\n    return a + b\n")


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
