"""Stopping a request's running code when its client withdraws it (Ctrl-C).

A generation stops at its next token through its cancel switch, but a
method stuck in ``while True:`` never looks at a switch. So `dispatch` runs
each request's handler (the methods it sends, a REPL statement) inside
`interruptible(cancel)`, and a withdrawal raises `RequestInterrupted` in the
worker thread with CPython's ``PyThreadState_SetAsyncExc``. It arrives at the
thread's next bytecode: code blocked inside one C call (a long ``sleep``) stops
when that call returns.

The exception can land only while the handler runs. The interrupter raises it
under a lock and only while the region is open; closing the region, under
the same lock, withdraws an exception not yet delivered. So it never lands in
the commit, which comes after the handler, or in the worker's bookkeeping.
Raised, it aborts the transaction like any failed request, and the client
gets a ``cancelled`` reply. It is a BaseException, so a method's
``except Exception:`` does not swallow it.

A daemon that stops does not interrupt running code: draining lets it finish
(only generations are stopped, see `Cancellation`).
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator

from batos_core.daemon.context import Cancellation


def _set_async_exc(thread: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in `thread` at its next bytecode; None withdraws a pending one.

    No argtypes on purpose: ctypes passes None as NULL, which is what clears."""
    argument = None if exc is None else ctypes.py_object(exc)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), argument)


class RequestInterrupted(BaseException):
    """Raised in a worker's running code when its client withdrew the request."""


class _Region:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: int | None = threading.get_ident()
        self.fired = False

    def interrupt(self) -> None:
        with self.lock:
            if self.thread is None or self.fired:
                return
            self.fired = True
            _set_async_exc(self.thread, RequestInterrupted)

    def close(self) -> None:
        with self.lock:
            thread, self.thread = self.thread, None
            if self.fired and thread is not None:
                # Not delivered yet: withdraw it (a NULL exception clears a pending one).
                _set_async_exc(thread, None)


@contextlib.contextmanager
def interruptible(cancel: Cancellation) -> Iterator[None]:
    """Run the body so that withdrawing `cancel` raises RequestInterrupted in it."""
    region = _Region()
    forget = cancel.when_withdrawn(region.interrupt)
    try:
        yield
    finally:
        region.close()
        forget()
