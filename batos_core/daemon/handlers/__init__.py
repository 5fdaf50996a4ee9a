"""Request handlers: one small module per area, one table from request type to handler.

A handler runs inside the request's transaction on a worker thread and returns
a reply model; it raises to fail (the dispatcher turns exceptions into typed
error replies and aborts the transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from batos_core.daemon.context import HandlerContext
from batos_core.daemon.handlers import history, methods, objects, review

Handler = Callable[[HandlerContext, Any], BaseModel]

HANDLERS: dict[str, Handler] = {
    "send_request": objects.handle_send,
    "inspect_request": objects.handle_inspect,
    "get_full_state_request": objects.handle_get_full_state,
    "complete_request": objects.handle_complete,
    "create_method_request": methods.handle_create_method,
    "history_request": history.handle_history,
    "source_request": history.handle_source,
    "revert_request": history.handle_revert,
    "suspension_request": methods.handle_suspension,
}


#: Requests answered on the event loop thread, with the daemon's review board:
#: they never touch the image, so they are answered even while every worker is
#: busy (one may be waiting for the approval such a request carries).
LOOP_HANDLERS: dict[str, review.LoopHandler] = {
    "proposals_request": review.handle_proposals,
    "approve_request": review.handle_approve,
}


def register(request_type: str, handler: Handler) -> None:
    """Add a handler (used by feature packages, e.g. eval and the JIT's history)."""
    HANDLERS[request_type] = handler


from batos_core.daemon.handlers import autotelic as _autotelic  # noqa: E402,F401  (cem, autotelic, dataset)
from batos_core.daemon.handlers import evaluate as _evaluate  # noqa: E402,F401  (registers eval_request)
