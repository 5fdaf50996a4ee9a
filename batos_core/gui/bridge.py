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
through the same client (`batos_core.protocol.client.Client`), so it has the
client's retry policy: after ``timeout`` seconds of silence a request is re-sent
with its id on a fresh socket, ``retries`` times, and at once when the daemon
drops the connection (the daemon answers a repeated id from its reply table).
A client is not thread-safe and waits for one request at a time, so the UI
thread only queues work: `WORKERS` background threads, each with its own
client, take requests from the queue (a slow request, a method being
generated, does not hold up a state request behind it). Every callback is
handed to ``dispatch`` (by default Kivy's ``Clock.schedule_once``), so it runs
on the UI's main thread.

Failures never raise into the UI: after the last attempt, or on an
``error_reply``, ``send`` callbacks get an ``error: ...`` line and state
requests report to ``on_error`` (or, without one, to the event listeners as
an event of kind ``error``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from batos_core.gui.replies import error_text, plain_state, reply_text
from batos_core.protocol.builders import eval_request, get_full_state_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import ConnectionInfo
from batos_core.protocol.constants import DEFAULT_MAX_FRAME_BYTES
from batos_core.protocol.errors import DaemonUnavailable, WireError
from batos_core.protocol.values import WireValue

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
#: Requests the bridge waits for at once (each on its own client and thread).
WORKERS = 4


def kivy_dispatch(job: Job) -> None:
    """Run ``job`` on Kivy's main thread at the next frame (safe from any thread)."""
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: job(), 0)


class SynapticBridge:
    """A UI's asynchronous connection to one daemon.

    ``timeout``: seconds of silence before a request is re-sent on a fresh
    socket (events for it restart the wait); ``retries``: how many times (the
    protocol client's policy). Requests made before :meth:`start` wait for it;
    call :meth:`close` at the end.
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
        self._key = key
        self._dispatch = dispatch
        self._max_frame_bytes = max_frame_bytes
        self._outbox: queue.SimpleQueue[tuple[dict[str, Any], ReplyHandler] | None] = queue.SimpleQueue()
        self._listeners: list[EventCallback] = []
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
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
        """Start the worker threads. Idempotent."""
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._work, name=f"batos-bridge-{n}", daemon=True)
                for n in range(WORKERS)
            ]
            for thread in self._threads:
                thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the workers; requests not answered yet are dropped (no callback runs).

        Waits up to ``timeout`` seconds for idle workers to close their sockets;
        a worker still waiting for a reply is a daemon thread and is left to it.
        """
        self._closing.set()
        for _ in self._threads:
            self._outbox.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def request(self, message: Mapping[str, Any], on_reply: ReplyHandler) -> None:
        """Queue ``message`` (a builders dict with an ``id``); ``on_reply(reply)`` runs on
        the UI thread with its final reply, an ``error_reply`` included."""
        self._outbox.put((dict(message), on_reply))

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

    # -- the worker threads -------------------------------------------------------------

    def _work(self) -> None:
        """Answer queued requests, one at a time, on this thread's own client."""
        client = Client(
            self.endpoint,
            self._key,
            timeout=self.timeout,
            retries=self.retries,
            max_frame_bytes=self._max_frame_bytes,
        )
        try:
            while (job := self._outbox.get()) is not None and not self._closing.is_set():
                message, on_reply = job
                reply = self._exchange(client, message)
                if not self._closing.is_set():
                    self._dispatch(lambda h=on_reply, r=reply: h(r))  # type: ignore[misc]
        except Exception:
            log.exception("a bridge worker failed")
        finally:
            client.close()

    def _exchange(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        """The final reply to ``message``, or an ``error_reply`` made here when the
        daemon never answered (``timeout``) or the request cannot be sent
        (``bad_request``). Events for it go to the listeners on the UI thread."""
        request_id = str(message["id"])
        try:
            return client.request(message, on_event=self._forward_event)
        except DaemonUnavailable as exc:
            log.warning("bridge: %s", exc)
            return _failure(
                request_id,
                "DaemonUnavailable",
                f"no reply from {exc.endpoint} after {exc.attempts} attempts of {exc.timeout:g} s",
                "timeout",
            )
        except (WireError, TypeError, ValueError) as exc:
            return _failure(request_id, type(exc).__name__, str(exc), "bad_request")

    def _forward_event(self, event: dict[str, Any]) -> None:
        if not self._closing.is_set():
            self._dispatch(lambda: self._deliver_event(event))


def _failure(request_id: str, name: str, message: str, code: str) -> dict[str, Any]:
    """An ``error_reply`` the bridge makes itself, shaped as the daemon's."""
    return {
        "type": "error_reply",
        "id": request_id,
        "name": name,
        "message": message,
        "code": code,
        "traceback": "",
    }
