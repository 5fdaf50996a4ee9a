"""The route table: every request type, its handler, and where it runs.

Three places, all named in `Runs`:

* ``WORKER``: on a worker thread, in the request's own transaction
  (`dispatch.execute`), with a `HandlerContext`; tracked by id in the
  in-flight table (a retry joins the running request), cancellable, and its
  reply stored when it wrote to the image (exactly-once);
* ``LOOP``: on the event loop thread, answered at once, with a `LoopContext`:
  it never touches the image, so it is answered even while every worker is
  busy (one may be waiting for the very approval an ``approve_request``
  carries);
* ``LOOP_TASK``: an asyncio task on the event loop (``upgrade_request``: it
  stops and restarts the loop's own reading), tracked by id like a worker
  request; the handler is a coroutine function given the `LoopContext`, the
  request and an event emitter, returning the reply dict (or None when
  another process answers it).

Adding a request type: its message model in ``protocol/messages`` (the
request union collects it), its handler, and one line here. A test keeps the
keys of this table equal to the request union's types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from batos_core.daemon.handlers import (
    autotelic,
    control,
    evaluate,
    history,
    methods,
    objects,
    review,
    upgrade,
)


class Runs(Enum):
    """Where a request runs (see the module docstring)."""

    WORKER = "worker"
    LOOP = "loop"
    LOOP_TASK = "loop task"


@dataclass(frozen=True, slots=True)
class Route:
    """A request type's handler and where it runs."""

    handler: Callable[..., Any]
    runs: Runs


def _worker(handler: Callable[..., Any]) -> Route:
    return Route(handler, Runs.WORKER)


def _loop(handler: Callable[..., Any]) -> Route:
    return Route(handler, Runs.LOOP)


ROUTES: dict[str, Route] = {
    # objects and Self code
    "send_request": _worker(objects.handle_send),
    "eval_request": _worker(evaluate.handle_eval),
    "inspect_request": _worker(objects.handle_inspect),
    "get_full_state_request": _worker(objects.handle_get_full_state),
    "complete_request": _worker(objects.handle_complete),
    # methods and their history
    "create_method_request": _worker(methods.handle_create_method),
    "suspension_request": _worker(methods.handle_suspension),
    "methods_request": _worker(methods.handle_methods),
    "history_request": _worker(history.handle_history),
    "source_request": _worker(history.handle_source),
    "revert_request": _worker(history.handle_revert),
    # review of generated methods
    "proposals_request": _loop(review.handle_proposals),
    "approve_request": _loop(review.handle_approve),
    # the autotelic loop
    "cem_request": _worker(autotelic.handle_cem),
    "autotelic_request": _worker(autotelic.handle_autotelic),
    "dataset_request": _worker(autotelic.handle_dataset),
    # the daemon itself
    "status_request": _loop(control.handle_status),
    "shutdown_request": _loop(control.handle_shutdown),
    "cancel_request": _loop(control.handle_cancel),
    "upgrade_request": Route(upgrade.handle_upgrade, Runs.LOOP_TASK),
    "incarnations_request": _worker(upgrade.handle_incarnations),
}
