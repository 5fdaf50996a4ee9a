"""The route table covers exactly the request union, and says where each request runs."""

from __future__ import annotations

import inspect
import typing

from batos_core.daemon.routes import ROUTES, Runs
from batos_core.protocol.messages.unions import Request


def request_types() -> set[str]:
    union = typing.get_args(Request)[0]  # Annotated[A | B | ..., Field(...)]
    types = set()
    for model in typing.get_args(union):
        (literal,) = typing.get_args(model.model_fields["type"].annotation)
        types.add(literal)
    return types


def test_the_route_table_covers_exactly_the_request_union() -> None:
    assert len(request_types()) > 15  # the introspection itself found the union
    assert set(ROUTES) == request_types()


def test_loop_tasks_are_coroutines_and_the_rest_are_not() -> None:
    for request_type, route in ROUTES.items():
        is_coroutine = inspect.iscoroutinefunction(route.handler)
        assert is_coroutine == (route.runs is Runs.LOOP_TASK), request_type


def test_the_daemons_own_controls_run_on_the_loop() -> None:
    on_loop = {t for t, route in ROUTES.items() if route.runs is not Runs.WORKER}
    assert on_loop == {
        "status_request",
        "shutdown_request",
        "cancel_request",
        "upgrade_request",
        "proposals_request",
        "approve_request",
    }
