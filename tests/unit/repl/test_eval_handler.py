"""The daemon's eval_request handler, run through the real dispatcher on a real image."""

from __future__ import annotations

from typing import Any

from batos_core.daemon import dispatch
from batos_core.daemon.context import DaemonInfo, HandlerContext
from batos_core.daemon_config import DaemonConfig
from batos_core.image import Session
from batos_core.objects import Method, SlotNotFound, set_slot
from batos_core.protocol.messages import EvalRequest


def context(session: Session) -> HandlerContext:
    return HandlerContext(
        session=session,
        config=DaemonConfig(image="unused"),
        info=DaemonInfo(pid=0, image="", started=0.0),
        emit=lambda kind, data: None,
    )


def run(
    session: Session, source: str, variables: dict[str, Any] | None = None, on_miss: Any = None
) -> dict[str, Any]:
    request = EvalRequest(
        id="r-" + str(abs(hash((source, str(variables))))), source=source, variables=variables or {}
    )
    return dispatch.execute(context(session), request, on_miss)


def test_variables_travel_as_references_and_come_back_updated(session: Session) -> None:
    first = run(session, "a := genesis clone. a setSlot: #x value: 5. n := 2")
    assert first["type"] == "eval_reply"
    ref = first["variables"]["a"]
    assert ref["$ref"].startswith("0x") and first["variables"]["n"] == 2
    second = run(session, "a x * n", first["variables"])
    assert second["result"] == 10
    assert second["variables"] == first["variables"]


def test_a_new_object_in_a_variable_is_stored_so_the_next_request_finds_it(session: Session) -> None:
    first = run(session, "o := (| y <- 7 |)")
    assert run(session, "o y", first["variables"])["result"] == 7


def test_a_miss_reaches_the_jit_hook_and_the_request_runs_again(session: Session) -> None:
    misses: list[str] = []

    def install(miss: SlotNotFound, ctx: HandlerContext, request: Any) -> bool:
        misses.append(miss.selector)
        with ctx.session.transaction_manager:
            set_slot(ctx.session.genesis, "answer", Method("answer", "def answer(self):\n    return 42\n"))
        return True

    reply = run(session, "genesis answer + 1", on_miss=install)
    assert misses == ["answer"]
    assert reply["result"] == 43


def test_without_a_hook_a_miss_is_a_slot_not_found_error(session: Session) -> None:
    reply = run(session, "genesis nothingHere")
    assert (reply["type"], reply["code"]) == ("error_reply", "slot_not_found")


def test_an_unknown_name_is_a_bad_request_with_its_position(session: Session) -> None:
    reply = run(session, "1 + nowhere")
    assert (reply["type"], reply["code"], reply["name"]) == ("error_reply", "bad_request", "UnknownName")
    assert reply["message"] == "line 1, column 5: unknown name 'nowhere'"


def test_an_unknown_oid_in_a_variable_is_object_not_found(session: Session) -> None:
    reply = run(session, "a", {"a": {"$ref": "0xfffff", "repr": ""}})
    assert (reply["type"], reply["code"]) == ("error_reply", "object_not_found")
