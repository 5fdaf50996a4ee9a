"""The REPL's `eval_request`: Self-syntax source evaluated in the request's transaction.

REPL variables live in the client and travel with every request as wire
values (objects as ``$ref`` markers). They are decoded here, handed to the
selfsyntax evaluator, and the updated set is encoded back into the reply, so
the daemon keeps no per-client state.
"""

from __future__ import annotations

from typing import Any

from batos_core.daemon.context import HandlerContext
from batos_core.protocol.messages import EvalReply, EvalRequest
from batos_core.protocol.values import WireValue
from batos_core.selfsyntax.evaluator import evaluate


def handle_eval(ctx: HandlerContext, request: EvalRequest) -> EvalReply:
    """Evaluate `request.source` with its variables; reply with the last value and the variables.

    Errors propagate to the dispatcher, which aborts the transaction: a
    reference to an unknown oid raises ObjectNotFound, a malformed value
    MalformedValue, bad source SelfSyntaxError, a language fault
    SelfEvalError, and a message nobody understands SlotNotFound, which the
    daemon's miss hook (the JIT) may answer by installing a method and
    running the whole request again. The evaluator never mutates the dict it
    is given, which is what makes that re-run safe.
    """
    session = ctx.session
    variables: dict[str, Any] = {name: ctx.decode(value) for name, value in request.variables.items()}
    outcome = evaluate(request.source, lobby=session.lobby, variables=variables, resolve_oid=session.get)
    encoded: dict[str, WireValue] = {name: ctx.encode(value) for name, value in outcome.variables.items()}
    return EvalReply(id=request.id, result=ctx.encode(outcome.value), variables=encoded)
