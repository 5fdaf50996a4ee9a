"""Run one request in one transaction and turn the outcome into a reply dict.

Order of events for a request (on a worker thread, with the worker's own
Connection and TransactionManager):

1. a transaction begins inside ``TransactionManager.attempts()``; a reply
   stored for the request id (exactly-once) is answered as is;
2. otherwise the handler runs: a ConflictError aborts and retries from 1,
   after a random pause that doubles with each conflict, up to 0.2 s (`conflict_pause`:
   writers of one object in several daemons of a shared world would
   otherwise keep colliding in step);
   any other exception aborts and becomes an error reply; a client's cancel
   stops the code the handler runs (`interrupt`) and aborts;
3. if the handler wrote to the image, its reply is stored in the same
   transaction, then the transaction commits;
4. a SlotNotFound goes to the miss hook (the JIT compiler for intent) *after*
   the abort, outside any transaction; if the hook installed a method, the
   request runs again from step 1.

Nothing here awaits: workers are threads, the event loop never sees a
transaction.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from ZODB.POSException import ConflictError

from batos_core.daemon.context import Cancellation, HandlerContext
from batos_core.daemon.interrupt import RequestInterrupted, interruptible
from batos_core.daemon.routes import ROUTES, Runs
from batos_core.image import BadReference, ImageError, ObjectNotFound, StorageUnreachable
from batos_core.jit.backends.base import GenerationCancelled
from batos_core.jit.misses import MissHook
from batos_core.objects import (
    ConstantSlotError,
    InvalidSlotName,
    MethodCompileError,
    MethodSuspended,
    NotAUvmObject,
    ParentCycleError,
    SlotNotFound,
)
from batos_core.protocol.codes import ErrorCode
from batos_core.protocol.messages import ErrorReply
from batos_core.protocol.messages.unions import dump_message
from batos_core.protocol.values import MalformedValue
from batos_core.selfsyntax.world import entered as entered_world
from batos_core.world import reply_table

log = logging.getLogger(__name__)

MAX_MISS_ROUNDS = 8

_BAD_REQUEST = (
    InvalidSlotName,
    NotAUvmObject,
    ParentCycleError,
    ConstantSlotError,
    MalformedValue,
    BadReference,
)


def error_code_for(exc: BaseException) -> ErrorCode:
    """The protocol error code for an exception raised while handling a request."""
    from batos_core.daemon.handlers.history import MethodNotFound
    from batos_core.selfsyntax.errors import SelfEvalError, SelfSyntaxError

    if isinstance(exc, SlotNotFound):
        return ErrorCode.SLOT_NOT_FOUND
    if isinstance(exc, MethodNotFound):
        return ErrorCode.METHOD_NOT_FOUND
    if isinstance(exc, MethodSuspended):
        return ErrorCode.METHOD_SUSPENDED
    if isinstance(exc, ObjectNotFound):
        return ErrorCode.OBJECT_NOT_FOUND
    if isinstance(exc, (MethodCompileError, SelfSyntaxError)):
        return ErrorCode.SYNTAX_ERROR
    if isinstance(exc, (*_BAD_REQUEST, SelfEvalError)):  # SelfEvalError: an unknown name, say
        return ErrorCode.BAD_REQUEST
    if isinstance(exc, ConflictError):
        return ErrorCode.CONFLICT
    if storage_lost(exc):
        return ErrorCode.STORAGE_UNAVAILABLE
    if isinstance(exc, ImageError):
        return ErrorCode.INTERNAL
    # Anything else was raised by the code the message ran: a method's own error.
    return ErrorCode.USER_ERROR


def storage_lost(exc: BaseException) -> bool:
    """Whether `exc` says the storage server went away (ZEO's ClientDisconnected, a
    server that does not answer, or psycopg2's lost connection under RelStorage)."""
    from ZEO.Exceptions import ClientDisconnected

    if isinstance(exc, (ClientDisconnected, StorageUnreachable)):
        return True
    return any(  # psycopg2.errors.AdminShutdown and the like subclass OperationalError
        kind.__module__.startswith("psycopg2") and kind.__name__ in ("OperationalError", "InterfaceError")
        for kind in type(exc).__mro__
    )


def abort_session(session: Any) -> None:
    """`session.abort()`, which raises too where the storage went away (RelStorage polls
    for invalidations as the abort ends): such an error is logged and dropped, since the
    transaction is aborted all the same and the next one reconnects; any other is raised."""
    try:
        session.abort()
    except Exception as exc:
        if not storage_lost(exc):
            raise
        log.warning(
            "aborted while the storage is away (%s); the next transaction reconnects", type(exc).__name__
        )


def _jit_error_code(exc: BaseException) -> ErrorCode:
    from batos_core.jit.errors import VetError
    from batos_core.jit.pipeline import GenerationFailed, NotGeneratable

    if isinstance(exc, GenerationFailed):
        return ErrorCode.GENERATION_FAILED
    if isinstance(exc, (NotGeneratable, VetError)):
        return ErrorCode.VETTING_FAILED
    return error_code_for(exc)


def cancelled_reply(request_id: str, cancel: Cancellation) -> dict[str, Any]:
    """The error reply of a request whose cancel switch stopped it."""
    reason = cancel.reason or "cancelled"
    return dump_message(
        ErrorReply(id=request_id, name="RequestCancelled", message=reason, code=str(cancel.code))
    )


def execute(ctx: HandlerContext, request: Any, on_miss: MissHook | None = None) -> dict[str, Any]:
    """Run `request` (a type the route table runs on a worker) and return the reply
    as a dict ready to sign; any other type is an ``unknown_type`` error reply."""
    route = ROUTES.get(request.type)
    if route is None or route.runs is not Runs.WORKER:
        return _error(
            request.id, NotImplementedError(f"no worker handler for {request.type}"), ErrorCode.UNKNOWN_TYPE
        )
    handler = route.handler
    session = ctx.session
    for _round in range(MAX_MISS_ROUNDS):
        try:
            return _run_transaction(ctx, handler, request)
        except RequestInterrupted:
            abort_session(session)
            log.info("request %s: its running code was stopped (%s)", request.id, ctx.cancel.reason)
            return cancelled_reply(request.id, ctx.cancel)
        except SlotNotFound as miss:
            abort_session(session)
            if on_miss is None:
                return _error(request.id, miss, ErrorCode.SLOT_NOT_FOUND, with_traceback=False)
            try:
                installed = _call_hook(on_miss, miss, ctx, request)
            except Exception as exc:
                if isinstance(exc, GenerationCancelled) and ctx.cancel.is_set():
                    log.info("request %s: generation stopped (%s)", request.id, ctx.cancel.reason)
                    return cancelled_reply(request.id, ctx.cancel)
                return _error(request.id, exc, _jit_error_code(exc), with_traceback=False)
            if not installed:
                return _error(request.id, miss, ErrorCode.SLOT_NOT_FOUND, with_traceback=False)
        except Exception as exc:
            abort_session(session)
            code = error_code_for(exc)
            if code is ErrorCode.USER_ERROR or code is ErrorCode.INTERNAL:
                log.info("request %s failed: %s: %s", request.id, type(exc).__name__, exc)
            return _error(request.id, exc, code)
    return _error(request.id, RuntimeError("too many doesNotUnderstand: rounds"), ErrorCode.GENERATION_FAILED)


def _run_transaction(
    ctx: HandlerContext, handler: Callable[[HandlerContext, Any], BaseModel], request: Any
) -> dict[str, Any]:
    session = ctx.session
    tm = session.transaction_manager
    for number, attempt in enumerate(tm.attempts(ctx.config.max_attempts)):
        if number:
            ctx.cancel.wait(conflict_pause(number))  # a cancel ends the pause; the attempt then stops
        with attempt:
            # Looked up in the request's own transaction: the view is fresh (each
            # attempt begins one) and a concurrent first run that stores the
            # same id makes this one conflict, retry, and find its reply.
            stored = reply_table.stored_reply(session.root, request.id)
            if stored is not None:
                log.info("request %s: answering the stored reply (retry)", request.id)
                return stored
            # A client's cancel stops the code it runs; Self code finds the
            # per-type traits through the request's world.
            with interruptible(ctx.cancel), entered_world(session.lobby):
                reply = dump_message(handler(ctx, request))
            if _wrote(session):
                reply_table.store_reply(session.root, request.id, reply)
    return reply


#: The longest pause between two attempts of a conflicting request.
MAX_CONFLICT_PAUSE_S = 0.2


def conflict_pause(conflicts: int) -> float:
    """Seconds to wait before the next attempt after `conflicts` conflicts: uniform in
    [0, 0.5 ms x 2**conflicts], at most MAX_CONFLICT_PAUSE_S ("full jitter" backoff)."""
    return random.uniform(0.0, min(MAX_CONFLICT_PAUSE_S, 0.0005 * 2**conflicts))


def _call_hook(on_miss: MissHook, miss: SlotNotFound, ctx: HandlerContext, request: Any) -> bool:
    try:
        return on_miss(miss, ctx, request)
    finally:
        ctx.session.abort()


def _wrote(session: Any) -> bool:
    # ZODB keeps the objects modified in this transaction on the connection;
    # it is the cheapest exact answer to "did this request change the image?".
    return bool(session.connection._registered_objects)


def _error(
    request_id: str, exc: BaseException, code: ErrorCode, *, with_traceback: bool = True
) -> dict[str, Any]:
    return dump_message(ErrorReply.from_exception(request_id, exc, code, with_traceback=with_traceback))
