"""Synchronous client with Lazy Pirate retries (stdlib + zmq + ormsgpack only).

The CLI imports this module on every start, so it must never import pydantic,
ZODB or persistent (a test checks ``sys.modules``). Requests are plain dicts,
built with :mod:`batos_core.protocol.builders`.

Retry contract (see ``docs/protocol.md``): a request is re-sent with the *same*
id on a fresh socket after ``timeout`` seconds without any message for it; the
daemon answers a repeated id of a request that already changed the image with
the stored reply, so a retry never executes twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import zmq
from zmq.backend import zmq_poll

from batos_core.protocol.connection import ConnectionInfo, read_connection_file
from batos_core.protocol.constants import DEFAULT_MAX_FRAME_BYTES, PROTOCOL_VERSION
from batos_core.protocol.errors import (
    DaemonUnavailable,
    RemoteError,
    VersionMismatch,
    WireError,
)
from batos_core.protocol.replay import ReplayGuard
from batos_core.protocol.sockio import POLLIN, input_waiting, recv_frames, send_frames
from batos_core.protocol.wire import Signer, Verifier

log = logging.getLogger(__name__)

#: Called with each ``event`` dict that belongs to the pending request.
EventCallback = Callable[[dict[str, Any]], None]

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
#: Immediate re-sends of one request after the daemon dropped the connection
#: (a restart or a `batos upgrade` hand-over); they do not use up `retries`.
MAX_RESENDS_ON_DISCONNECT = 8
#: How long an interrupted request waits for the daemon to confirm its cancel.
CANCEL_WAIT_S = 1.0
#: How long a request waits for its reply on the socket alone before it also
#: watches for the daemon dropping the connection: most replies come sooner,
#: and watching the monitor too costs every request a few system calls.
WATCH_DROPS_AFTER_S = 0.02


class _Dropped(Exception):
    """The daemon closed the connection while a request was pending."""


class Client:
    """A DEALER connection to one daemon. Not thread-safe: one per thread.

    ``timeout`` is the longest silence (seconds) tolerated while waiting for a
    request's reply; every event for the request restarts it. After a silent
    ``timeout`` the socket is closed and reopened and the request re-sent with
    the same id, ``retries`` times, then :class:`DaemonUnavailable` is raised.
    """

    def __init__(
        self,
        endpoint: str,
        key: bytes,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.retries = retries
        self.max_frame_bytes = max_frame_bytes
        self._context = context if context is not None else zmq.Context.instance()
        self._signer = Signer(key, max_frame_bytes=max_frame_bytes)
        self._verifier = Verifier(key, ReplayGuard(), max_frame_bytes=max_frame_bytes)
        self._socket: zmq.Socket[bytes] | None = None
        self._monitor: zmq.Socket[bytes] | None = None
        #: After a request was interrupted (KeyboardInterrupt): whether the daemon
        #: confirmed it cancelled it (True), found it finished (False), or did
        #: not answer in time (None).
        self.last_cancel: bool | None = None

    @classmethod
    def from_connection_info(cls, info: ConnectionInfo, **options: Any) -> Client:
        """A client for the daemon described by ``info``.

        Raises :class:`VersionMismatch` if it speaks another protocol version.
        """
        if info.protocol_version != PROTOCOL_VERSION:
            raise VersionMismatch(info.endpoint, info.protocol_version, PROTOCOL_VERSION)
        return cls(info.endpoint, info.key, **options)

    @classmethod
    def from_connection_file(cls, path: Path, **options: Any) -> Client:
        """Read ``path`` (see :func:`read_connection_file` for its errors) and connect."""
        return cls.from_connection_info(read_connection_file(path), **options)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket (pending messages are dropped). Idempotent."""
        if self._monitor is not None:
            if self._socket is not None:
                self._socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def request(
        self,
        message: Mapping[str, Any],
        *,
        on_event: EventCallback | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> dict[str, Any]:
        """Send ``message`` and return its final reply dict (possibly an ``error_reply``).

        ``event`` messages carrying the request's id are passed to ``on_event``
        (or dropped) before the reply. Replies that fail verification or carry
        another id are logged and dropped. Raises :class:`DaemonUnavailable`
        after ``1 + retries`` silent attempts, :class:`FrameTooLarge` if the
        request exceeds the frame cap, ``KeyError`` if it has no ``id``.
        Exceptions raised by ``on_event`` propagate (the request is abandoned).
        A KeyboardInterrupt while waiting first asks the daemon to cancel the
        request (``cancel_request``; see `last_cancel`), then propagates.
        """
        request_id = str(message["id"])
        try:
            return self._request(message, request_id, on_event, timeout, retries)
        except KeyboardInterrupt:
            self.last_cancel = self._cancel(request_id)
            raise

    def _request(
        self,
        message: Mapping[str, Any],
        request_id: str,
        on_event: EventCallback | None,
        timeout: float | None,
        retries: int | None,
    ) -> dict[str, Any]:
        wait = self.timeout if timeout is None else timeout
        attempts = 1 + (self.retries if retries is None else retries)
        for attempt in range(1, attempts + 1):
            socket = self._connected()
            reply = self._send_and_await(socket, message, request_id, wait, on_event)
            if reply is not None:
                return reply
            log.warning(
                "no reply to %s from %s in %g s (attempt %d/%d)",
                request_id,
                self.endpoint,
                wait,
                attempt,
                attempts,
            )
            # Lazy Pirate: a DEALER may hold a half-dead connection; start over.
            self.close()
        raise DaemonUnavailable(self.endpoint, request_id, attempts, wait)

    def _send_and_await(
        self,
        socket: zmq.Socket[bytes],
        message: Mapping[str, Any],
        request_id: str,
        wait: float,
        on_event: EventCallback | None,
    ) -> dict[str, Any] | None:
        for resend in range(1, MAX_RESENDS_ON_DISCONNECT + 2):
            # A fresh envelope per send: the daemon's guard refuses a re-sent counter.
            send_frames(socket, self._signer.sign(message))
            try:
                return self._await_reply(socket, request_id, wait, on_event)
            except _Dropped:
                # A request the old connection carried may be lost; the same id is
                # safe to send again (exactly-once), and the socket reconnects by
                # itself, so the copy waits in it until a daemon listens again.
                log.info("%s dropped the connection; re-sending %s (%d)", self.endpoint, request_id, resend)
        return None

    def _cancel(self, request_id: str) -> bool | None:
        """Ask the daemon to cancel `request_id`; its answer, or None (no answer
        within CANCEL_WAIT_S, or no connection). Never raises but KeyboardInterrupt."""
        from batos_core.protocol.builders import cancel_request

        socket = self._socket
        if socket is None:
            return None
        cancel = cancel_request(request_id)
        try:
            send_frames(socket, self._signer.sign(cancel))
            deadline = time.monotonic() + CANCEL_WAIT_S
            while (remaining := deadline - time.monotonic()) > 0:
                if not zmq_poll([(socket, POLLIN)], max(1, int(remaining * 1000))):
                    return None
                reply = self._receive(socket, cancel["id"])
                if reply is not None:
                    return bool(reply.get("cancelled")) if reply.get("type") == "cancel_reply" else None
        except (zmq.ZMQError, WireError) as exc:
            log.info("could not cancel %s: %s", request_id, exc)
        return None

    def _drain_monitor(self) -> None:
        while self._monitor is not None and input_waiting(self._monitor):
            self._monitor.recv_multipart()

    def _connected(self) -> zmq.Socket[bytes]:
        if self._socket is None:
            socket = self._context.socket(zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 0)
            # libzmq disconnects a peer that sends a larger frame, before buffering it.
            socket.setsockopt(zmq.MAXMSGSIZE, self.max_frame_bytes)
            socket.connect(self.endpoint)
            self._socket = socket
            # Learn at once when the daemon drops the connection, rather than
            # after `timeout` seconds of silence. A unique address: pyzmq's
            # default names it after the fd, which a socket still being closed
            # may hold ("Address already in use").
            address = f"inproc://batos-client-monitor-{os.urandom(8).hex()}"
            socket.monitor(address, zmq.EVENT_DISCONNECTED)
            monitor = self._context.socket(zmq.PAIR)
            monitor.setsockopt(zmq.LINGER, 0)
            monitor.connect(address)
            self._monitor = monitor
        return self._socket

    def _await_reply(
        self,
        socket: zmq.Socket[bytes],
        request_id: str,
        wait: float,
        on_event: EventCallback | None,
    ) -> dict[str, Any] | None:
        watched = [(socket, POLLIN)]
        now = time.monotonic()
        deadline = now + wait
        # The monitor joins after WATCH_DROPS_AFTER_S. A drop it reports then may
        # be older than this request (a restart between two requests): the
        # re-send that follows is safe all the same (exactly-once), and happens
        # once per drop, only to a request that was slow to answer.
        watch_drops_at = now + WATCH_DROPS_AFTER_S if self._monitor is not None else deadline
        while (remaining := deadline - (now := time.monotonic())) > 0:
            if self._monitor is not None and len(watched) == 1:
                if now >= watch_drops_at:
                    watched.append((self._monitor, POLLIN))
                else:
                    remaining = min(remaining, watch_drops_at - now)
            # zmq_poll itself, not zmq.Poller: this runs for every request.
            ready = zmq_poll(watched, max(1, int(remaining * 1000)))
            if not ready:
                continue  # the loop's test ends the wait at the deadline
            if ready[0][0] is not socket:  # only the monitor: the daemon dropped us
                self._drain_monitor()
                raise _Dropped
            message = self._receive(socket, request_id)
            if message is None:
                continue
            if message["type"] != "event":
                return message
            if on_event is not None:
                on_event(message)
            # The daemon is alive and working. Restarted after the callback: time
            # the callback spends (e.g. asking a person to approve) is not silence.
            deadline = time.monotonic() + wait
        return None

    def _receive(self, socket: zmq.Socket[bytes], request_id: str) -> dict[str, Any] | None:
        frames = recv_frames(socket)
        try:
            message = self._verifier.verify(frames).message
        except WireError as exc:
            log.warning("dropped a message from %s: %s", self.endpoint, exc.reason)
            return None
        if message.get("id") != request_id:
            # Typically the late reply to an earlier, abandoned request.
            log.debug("dropped a message for %r while waiting for %s", message.get("id"), request_id)
            return None
        return message


def raise_for_error(reply: Mapping[str, Any]) -> None:
    """Raise :class:`RemoteError` if ``reply`` is an ``error_reply``; else do nothing."""
    if reply.get("type") == "error_reply":
        raise RemoteError(
            request_id=str(reply.get("id", "")),
            name=str(reply.get("name", "")),
            message=str(reply.get("message", "")),
            code=str(reply.get("code", "internal")),
            traceback=str(reply.get("traceback", "")),
        )
