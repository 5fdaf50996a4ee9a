"""The Synaptic Bridge: how a UI process talks to its daemon.

A generated UI gets one object, ``bridge``, with three calls (the UI prompt in
``batos_core.jit.prompt`` describes exactly these):

* ``bridge.get_full_state(target, callback)``: later, ``callback(state)`` with
  a dict of slot names to plain values;
* ``bridge.send(text, callback)``: ``text`` is one input of the REPL's Self
  syntax; later, ``callback(reply_text)``;
* ``bridge.on_event(callback)``: ``callback(event)`` for every event the
  daemon pushes.

The bridge speaks the same signed protocol as the CLI (``docs/protocol.md``)
from a DEALER socket owned by one background I/O thread; zmq sockets are not
thread-safe, so the UI thread only queues work and wakes the I/O thread
through a pipe. Every callback is handed to ``dispatch`` (by default Kivy's
``Clock.schedule_once``), so it runs on the UI's main thread.

Failures never raise into the UI: a request with no answer is retried Lazy
Pirate style (same id, fresh socket; the daemon answers a repeated id from its
reply table), and after the last attempt, or on an ``error_reply``, ``send``
callbacks get an ``error: ...`` line and state requests report to ``on_error``
(or, without one, to the event listeners as an event of kind ``error``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import zmq

from batos_core.gui.replies import error_text, plain_state, reply_text
from batos_core.protocol.builders import eval_request, get_full_state_request
from batos_core.protocol.connection import ConnectionInfo
from batos_core.protocol.constants import DEFAULT_MAX_FRAME_BYTES
from batos_core.protocol.errors import WireError
from batos_core.protocol.replay import ReplayGuard
from batos_core.protocol.values import WireValue
from batos_core.protocol.wire import Signer, Verifier

log = logging.getLogger(__name__)

Job = Callable[[], None]
#: Runs a job on the UI thread, later.
Dispatch = Callable[[Job], None]
StateCallback = Callable[[dict[str, Any]], None]
TextCallback = Callable[[str], None]
EventCallback = Callable[[dict[str, Any]], None]
ReplyHandler = Callable[[dict[str, Any]], None]

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 2
_MAX_POLL_MS = 1000


def kivy_dispatch(job: Job) -> None:
    """Run ``job`` on Kivy's main thread at the next frame (safe from any thread)."""
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: job(), 0)


@dataclass
class _Pending:
    message: dict[str, Any]
    on_reply: ReplyHandler
    deadline: float
    attempt: int = 1


class SynapticBridge:
    """A UI's asynchronous connection to one daemon.

    ``timeout``: seconds of silence before a request is re-sent on a fresh
    socket (events for it restart the wait); ``retries``: how many times.
    Call :meth:`start` before the first request and :meth:`close` at the end.
    The public calls may be made from any thread; callbacks run via
    ``dispatch``. An exception raised by a callback propagates on the UI
    thread (a broken UI fails loudly, and the launcher reports its line).
    """

    def __init__(
        self,
        endpoint: str,
        key: bytes,
        *,
        dispatch: Dispatch = kivy_dispatch,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.retries = retries
        self._dispatch = dispatch
        self._max_frame_bytes = max_frame_bytes
        self._signer = Signer(key, max_frame_bytes=max_frame_bytes)
        self._verifier = Verifier(key, ReplayGuard(), max_frame_bytes=max_frame_bytes)
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self._outbox: queue.SimpleQueue[tuple[dict[str, Any], ReplyHandler]] = queue.SimpleQueue()
        self._pending: dict[str, _Pending] = {}
        self._listeners: list[EventCallback] = []
        self._wake_read, self._wake_write = os.pipe()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._eval_supported = True
        self._variables: dict[str, WireValue] = {}
        #: What the UI has been shown so far (read by the launcher's capture).
        self.states_delivered = 0
        self.replies_delivered = 0
        self.last_state: dict[str, Any] = {}
        self.replies: list[str] = []
        self.errors: list[str] = []

    @classmethod
    def from_connection_info(cls, info: ConnectionInfo, **options: Any) -> SynapticBridge:
        """A bridge to the daemon described by ``info`` (see ``__init__`` for options)."""
        return cls(info.endpoint, info.key, **options)

    # -- the API generated UIs use -------------------------------------------------

    def get_full_state(
        self, target: str, callback: StateCallback, on_error: TextCallback | None = None
    ) -> None:
        """Ask for every slot of ``target`` (a lobby name or an oid).

        Later, on the UI thread, ``callback(state)`` with slot name -> plain
        value (objects as their printString). On failure ``on_error(text)``
        or, without it, an ``error`` event to the listeners.
        """

        def on_reply(reply: dict[str, Any]) -> None:
            if reply.get("type") != "get_full_state_reply":
                self._report_error(error_text(reply), on_error)
                return
            state = plain_state(reply.get("state") or {})
            self.last_state = state
            callback(state)
            self.states_delivered += 1

        self.request(dict(get_full_state_request(target)), on_reply)

    def send(self, text: str, callback: TextCallback) -> None:
        """Send ``text`` (REPL syntax, e.g. ``genesis setSlot: 'x' value: 3``).

        Later, on the UI thread, ``callback(reply_text)``: the result as the
        REPL prints it, or ``error: Name: message``. Sent as an
        ``eval_request``; a daemon that does not evaluate expressions gets one
        ``send_request`` instead (see :mod:`batos_core.gui.plain_send`).
        """
        if self._eval_supported:
            self.request(
                dict(eval_request(text, self._variables)),
                lambda reply: self._on_eval_reply(text, reply, callback),
            )
        else:
            self._send_plain(text, callback)

    def on_event(self, callback: EventCallback) -> None:
        """Call ``callback(event)`` on the UI thread for every event the daemon sends.

        ``event`` is the message dict: ``kind`` (``phase``, ``token``, ``log``,
        ``state``, ``error``...), ``data`` (a dict) and ``id`` (the request).
        """
        self._listeners.append(callback)

    # -- lifecycle and the raw request ----------------------------------------------

    def start(self) -> None:
        """Start the I/O thread. Idempotent."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="batos-bridge", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the I/O thread and close the socket; pending requests are dropped."""
        self._closing.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def request(self, message: Mapping[str, Any], on_reply: ReplyHandler) -> None:
        """Queue ``message`` (a builders dict with an ``id``); ``on_reply(reply)`` runs on
        the UI thread with its final reply, an ``error_reply`` included."""
        self._outbox.put((dict(message), on_reply))
        self._wake()

    # -- UI-thread helpers --------------------------------------------------------------

    def _on_eval_reply(self, text: str, reply: dict[str, Any], callback: TextCallback) -> None:
        if reply.get("type") == "error_reply" and reply.get("code") == "unknown_type":
            log.info("the daemon does not evaluate expressions; sending %r as one message", text)
            self._eval_supported = False
            self._send_plain(text, callback)
            return
        if reply.get("type") == "eval_reply" and isinstance(reply.get("variables"), dict):
            self._variables = dict(reply["variables"])
        self._deliver_text(callback, reply_text(reply))

    def _send_plain(self, text: str, callback: TextCallback) -> None:
        # Imported here: the parser is only needed by daemons without eval,
        # and the UI's start-up time is measured (bench/bench_ui.py).
        from batos_core.gui.plain_send import send_request_for

        try:
            message = send_request_for(text)
        except ValueError as exc:
            failure = f"error: {exc}"
            self._dispatch(lambda: self._deliver_text(callback, failure))
            return
        self.request(dict(message), lambda reply: self._deliver_text(callback, reply_text(reply)))

    def _deliver_text(self, callback: TextCallback, text: str) -> None:
        self.replies.append(text)
        callback(text)
        self.replies_delivered += 1

    def _report_error(self, text: str, on_error: TextCallback | None) -> None:
        log.warning("bridge: %s", text)
        self.errors.append(text)
        if on_error is not None:
            on_error(text)
            return
        event = {"type": "event", "id": "", "kind": "error", "data": {"message": text}}
        for listener in list(self._listeners):
            listener(event)

    def _deliver_event(self, event: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- the I/O thread -------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def _run(self) -> None:
        socket = self._open_socket()
        poller = zmq.Poller()
        poller.register(self._wake_read, zmq.POLLIN)
        poller.register(socket, zmq.POLLIN)
        try:
            while not self._closing.is_set():
                ready = dict(poller.poll(self._poll_timeout_ms()))
                if self._wake_read in ready:
                    os.read(self._wake_read, 4096)
                if self._closing.is_set():
                    break
                self._flush_outbox(socket)
                if socket in ready:
                    self._receive_all(socket)
                if self._expire():
                    # Lazy Pirate: a DEALER may hold a half-dead connection; start over
                    # and re-send every pending request with its same id.
                    poller.unregister(socket)
                    socket.close(linger=0)
                    socket = self._open_socket()
                    poller.register(socket, zmq.POLLIN)
                    for pending in self._pending.values():
                        self._transmit(socket, pending.message)
        except Exception:
            log.exception("the bridge's I/O thread failed")
        finally:
            socket.close(linger=0)

    def _open_socket(self) -> zmq.Socket[bytes]:
        socket: zmq.Socket[bytes] = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.MAXMSGSIZE, self._max_frame_bytes)
        socket.connect(self.endpoint)
        return socket

    def _poll_timeout_ms(self) -> int:
        if not self._pending:
            return _MAX_POLL_MS
        nearest = min(p.deadline for p in self._pending.values()) - time.monotonic()
        return max(1, min(_MAX_POLL_MS, int(nearest * 1000) + 1))

    def _flush_outbox(self, socket: zmq.Socket[bytes]) -> None:
        while True:
            try:
                message, on_reply = self._outbox.get_nowait()
            except queue.Empty:
                return
            request_id = str(message["id"])
            try:
                self._transmit(socket, message)
            except (WireError, TypeError, ValueError) as exc:
                failure = {
                    "type": "error_reply",
                    "id": request_id,
                    "name": type(exc).__name__,
                    "message": str(exc),
                    "code": "bad_request",
                    "traceback": "",
                }
                self._dispatch(lambda h=on_reply, f=failure: h(f))  # type: ignore[misc]
                continue
            self._pending[request_id] = _Pending(message, on_reply, time.monotonic() + self.timeout)

    def _transmit(self, socket: zmq.Socket[bytes], message: dict[str, Any]) -> None:
        # A fresh envelope per transmission: the daemon's guard refuses a re-sent counter.
        socket.send_multipart(self._signer.sign(message))

    def _receive_all(self, socket: zmq.Socket[bytes]) -> None:
        while socket.poll(0):
            frames = socket.recv_multipart()
            try:
                message = self._verifier.verify(frames).message
            except WireError as exc:
                log.warning("dropped a message from %s: %s", self.endpoint, exc.reason)
                continue
            self._route(message)

    def _route(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        pending = self._pending.get(request_id) if isinstance(request_id, str) else None
        if message.get("type") == "event":
            if pending is not None:
                pending.deadline = time.monotonic() + self.timeout  # the daemon is working on it
            self._dispatch(lambda: self._deliver_event(message))
            return
        if pending is None:
            log.debug("dropped a reply for %r (no such pending request)", request_id)
            return
        del self._pending[pending.message["id"]]
        self._dispatch(lambda: pending.on_reply(message))

    def _expire(self) -> bool:
        """Fail requests out of attempts; True if some must be re-sent on a new socket."""
        now = time.monotonic()
        resend = False
        for request_id, pending in list(self._pending.items()):
            if pending.deadline > now:
                continue
            if pending.attempt <= self.retries:
                log.warning("no reply to %s in %g s (attempt %d)", request_id, self.timeout, pending.attempt)
                pending.attempt += 1
                resend = True
                continue
            del self._pending[request_id]
            failure = {
                "type": "error_reply",
                "id": request_id,
                "name": "DaemonUnavailable",
                "message": f"no reply from {self.endpoint} after {pending.attempt} attempts "
                f"of {self.timeout:g} s",
                "code": "timeout",
                "traceback": "",
            }
            self._dispatch(lambda h=pending.on_reply, f=failure: h(f))  # type: ignore[misc]
        if resend:
            deadline = now + self.timeout
            for pending in self._pending.values():
                pending.deadline = deadline
        return resend
