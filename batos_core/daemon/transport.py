"""The daemon's end of the wire: the ROUTER socket, its lock, signing and
verification, the in-flight table, and every send.

The socket is a plain (not ``zmq.asyncio``) ROUTER. Two kinds of thread
receive from it, one at a time as a rule (two at once is safe, only wasteful:
every receive holds the lock):

* a worker that holds the pool's listener role calls `take`, which waits on
  the socket's ``ZMQ_FD`` and a wake-up pipe with ``poll`` (no GIL held) and
  returns one verified message, which that worker then runs itself
  (`workers.WorkerPool`);
* the event loop, when no worker is idle (`loop_reads`), watches the fd with
  ``loop.add_reader``; a readable signal drains every waiting message in one
  callback, with no future per message, each to the daemon's `accept`
  callback on the loop thread.

The fd is edge-triggered: any operation on the socket, a send included, can
consume the edge. A receive that finds nothing re-arms it, so each receiver
reads until the socket is empty before it waits; after each send the
transport checks ``ZMQ_EVENTS`` and, when input is waiting, wakes whoever
listens (the pipe, or a drain scheduled on the loop).

A worker signs and sends its reply (and its events) itself, under the lock,
instead of handing it back to the loop: libzmq allows a socket to move between
threads across a full memory barrier, which the lock provides, and the
hand-back cost a self-pipe wake-up and a contended GIL hand-over per frame
sent (see docs/architecture.md, "Daemon speed"). The in-flight table maps a
request id to the clients waiting for it and its cancel switch: a retry of a
request still running joins it instead of running twice.

Nothing leaves before the disk has what it could depend on: a thread that
defers its transactions' durability wait (`image.group_commit.defer_durability`,
the workers do) settles it before every send here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq
from pydantic import BaseModel

from batos_core.daemon.context import Cancellation
from batos_core.image.group_commit import settle_durability
from batos_core.protocol.codes import ErrorCode
from batos_core.protocol.connection import ConnectionInfo
from batos_core.protocol.errors import WireError
from batos_core.protocol.messages import ErrorReply
from batos_core.protocol.messages.unions import dump_message
from batos_core.protocol.replay import ReplayGuard
from batos_core.protocol.sockio import NOBLOCK, input_waiting, recv_frames, send_frames
from batos_core.protocol.wire import Signer, Verifier, split_route

log = logging.getLogger(__name__)

#: Messages read per readable callback before yielding to other loop callbacks.
RECEIVE_BATCH = 64

#: Called on the loop thread with a verified message's route and body.
Accept = Callable[[list[bytes], dict[str, Any]], None]

#: What `take` returns: a verified message's route (the client's identity) and body.
Received = tuple[list[bytes], dict[str, Any]]


@dataclass
class InFlight:
    """A request being answered: the clients waiting for it (a retry adds one) and its cancel switch."""

    identities: list[list[bytes]] = field(default_factory=list)
    cancel: Cancellation = field(default_factory=Cancellation)


class Transport:
    """One daemon's socket, from `open` to `terminate` (closed and rebound across a
    hand-over's `close`/`rebind`). Sends, `take` and `wake` are safe from any
    thread; `open`, `rebind`, `close` and the reading switches belong to the
    loop thread, and `close` comes only when no worker is left to `take`."""

    def __init__(self, max_frame_bytes: int, accept: Accept) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._accept = accept
        self._inflight: dict[str, InFlight] = {}
        # Held around every use of the socket, the signer and `_inflight`: the
        # loop receives, workers (and the loop) send.
        self._lock = threading.Lock()
        # Around the verifier: its replay guard is not thread-safe, and the loop
        # and a listening worker may both receive for a moment (see _verified).
        self._verify_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0  # threading.get_ident() of the loop's thread
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._info: ConnectionInfo | None = None
        self._socket: zmq.Socket[bytes] | None = None
        self._signer: Signer | None = None
        self._verifier: Verifier | None = None
        self._reading = False  # requests are received (between start_reading and stop_reading)
        self._loop_reading = False  # the loop watches the socket's fd (`loop_reads`)
        self._drain_scheduled = False
        # A listening worker's wake-up (made by `open`): a byte makes its `take` return.
        self._wake_r = self._wake_w = -1
        self._taking = False  # a worker waits in `take` (under the lock): a send that finds input wakes it
        # The socket, and a poll over its fd and the pipe:
        self._poller: tuple[zmq.Socket[bytes], select.poll] | None = None

    # -- socket lifecycle (loop thread) -------------------------------------

    def open(self, info: ConnectionInfo, guard: ReplayGuard | None) -> None:
        """Bind `info.endpoint` and set up signing with `info.key`. `guard`
        continues a predecessor's replay guard; by default nothing signed
        before now is accepted. Raises zmq.ZMQError if the endpoint cannot be bound."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._info = info
        self._ctx = zmq.Context()
        self._signer = Signer(info.key, max_frame_bytes=self.max_frame_bytes)
        self._verifier = Verifier(
            info.key,
            # Not `guard or ...`: a guard that knows no session yet has len() 0.
            guard if guard is not None else ReplayGuard(skew_ns=0),
            max_frame_bytes=self.max_frame_bytes,
        )
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.rebind()

    def rebind(self) -> None:
        """Bind the endpoint again (after `close`: a rolled-back hand-over)."""
        assert self._ctx is not None and self._info is not None
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 1000)
        # libzmq drops (and disconnects) a peer whose frame exceeds this, before
        # we ever see it: huge declared lengths never allocate.
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_frame_bytes + 4096)
        sock.bind(self._info.endpoint)
        if self._info.transport == "ipc":
            os.chmod(self._info.endpoint[len("ipc://") :], 0o600)
        with self._lock:
            self._socket = sock

    def start_reading(self) -> None:
        """Requests may be received from now on: by a listening worker (`take`) or,
        once `loop_reads` says so, by the loop."""
        with self._lock:
            self._reading = True

    def stop_reading(self) -> None:
        """No request is received after this returns (a listening worker's `take`
        returns None; one it received before still runs)."""
        with self._lock:
            self._reading = False
        self.loop_reads(False)
        self.wake()

    def loop_reads(self, reading: bool) -> None:
        """Have the loop watch the socket (True: no worker listens) or stop (loop thread)."""
        assert self._loop is not None
        if reading and self._reading and not self._loop_reading and self._socket is not None:
            self._loop.add_reader(self._socket.fileno(), self._on_readable)
            self._loop_reading = True
            self._schedule_drain()  # anything that arrived before the fd was watched
        elif not reading and self._loop_reading:
            if self._socket is not None:
                self._loop.remove_reader(self._socket.fileno())
            self._loop_reading = False

    def close(self, linger: int | None = None) -> None:
        """Close the socket (the last replies still go out within `linger` ms)."""
        with self._lock:
            if self._socket is not None:
                self._socket.close(linger=linger)
                self._socket = None

    def terminate(self) -> None:
        """End the zmq context (after `close`)."""
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def guard_state(self) -> dict[str, Any]:
        """The replay guard's state, for a successor (`ReplayGuard.export_state`)."""
        assert self._verifier is not None
        state: dict[str, Any] = self._verifier.guard.export_state()
        return state

    # -- the in-flight table (any thread) ------------------------------------

    def track(self, request_id: str, identity: list[bytes]) -> InFlight | None:
        """Enter a request in the in-flight table; None if it is already there
        (a retry: `identity` is answered with it when it finishes)."""
        with self._lock:
            pending = self._inflight.get(request_id)
            if pending is not None:
                pending.identities.append(identity)
                return None
            entry = self._inflight[request_id] = InFlight([identity])
            return entry

    def forget(self, request_id: str) -> None:
        """Drop a request without answering it (another process answers it)."""
        with self._lock:
            self._inflight.pop(request_id, None)

    def in_flight(self, request_id: str) -> InFlight | None:
        with self._lock:
            return self._inflight.get(request_id)

    def pull_all(self, code: ErrorCode, reason: str) -> None:
        """Pull the cancel switch of every request in flight (a stop, a hand-over)."""
        with self._lock:
            pending = list(self._inflight.values())
        for entry in pending:
            entry.cancel.pull(code, reason)

    # -- sending (any thread) ------------------------------------------------

    def finish(self, request_id: str, message: dict[str, Any]) -> None:
        """Answer every client waiting for `request_id` and forget it."""
        settle_durability()
        body = self._encode(message)
        with self._lock:
            pending = self._inflight.pop(request_id, None)
            self._send_locked(pending.identities if pending else [], body)

    def event(self, request_id: str, kind: str, data: dict[str, Any]) -> None:
        """Send an event of `request_id` to every client waiting for it."""
        message = {"type": "event", "id": request_id, "kind": kind, "data": data}
        settle_durability()
        body = self._encode(message)
        with self._lock:
            pending = self._inflight.get(request_id)
            self._send_locked(pending.identities if pending else [], body)

    def reply_now(self, identity: list[bytes], model: BaseModel) -> None:
        """Answer one client at once (a request answered on the loop, an invalid one)."""
        settle_durability()
        body = self._encode(dump_message(model))
        with self._lock:
            self._send_locked([identity], body)

    def _encode(self, message: dict[str, Any]) -> bytes:
        """The body frame of `message`, or of an error reply saying why it cannot be sent
        (too large for the frame cap; not msgpack-encodable, a bug)."""
        assert self._signer is not None
        try:
            return self._signer.encode(message)
        except WireError:
            name, code = "ReplyTooLarge", ErrorCode.REPLY_TOO_LARGE
            why = f"the reply exceeds the {self.max_frame_bytes}-byte frame cap"
        except TypeError as exc:
            log.exception("a %s could not be encoded", message.get("type"))
            name, code, why = "UnencodableReply", ErrorCode.INTERNAL, f"the reply could not be encoded: {exc}"
        error = ErrorReply(id=str(message.get("id", ""))[:128], name=name, message=why, code=str(code))
        return self._signer.encode(dump_message(error))

    def _send_locked(self, identities: list[list[bytes]], body: bytes) -> None:
        """Sign `body` and send it to each identity; the caller holds `_lock`.

        Signing happens here, under the lock, so the signer's counter rises in
        the order messages leave (a client's replay guard requires that).
        """
        sock, signer = self._socket, self._signer
        if not identities or sock is None or signer is None:
            return  # nobody waits, or the socket is closed (a hand-over)
        for identity in identities:
            try:
                # A ROUTER send never blocks: a peer that is gone or over its high
                # water mark loses the message (its client retries by id).
                send_frames(sock, [*identity, *signer.sign_body(body)], NOBLOCK)
            except zmq.ZMQError as exc:
                log.warning("could not send a reply: %s", exc)
        if self._taking or self._loop_reading:
            # The send may have consumed the fd's edge that a poll waits for. (With
            # neither, nobody polls: the next `take` receives before it polls.)
            self._input_rearmed(sock)

    def _input_rearmed(self, sock: zmq.Socket[bytes]) -> bool:
        """Whether input waits; the caller holds `_lock`. Reading ``ZMQ_EVENTS``
        (as any send does) consumes the fd's edge, so when input waits, whoever
        listens is woken: the worker in `take` (the pipe), or the loop (a drain)."""
        if not (self._reading and input_waiting(sock)):
            return False
        if self._taking:
            self.wake()
        if self._loop_reading:
            loop = self._loop
            assert loop is not None
            if threading.get_ident() == self._loop_thread:
                self._schedule_drain()
            else:
                loop.call_soon_threadsafe(self._schedule_drain)
        return True

    # -- receiving on a listening worker (any thread, one at a time) -----------

    def take(self, timeout: float) -> Received | None:
        """The next verified message, waiting up to `timeout` seconds for one; None
        when none came, when `wake` was called, or when reading has stopped.
        Messages that fail verification are dropped on the way, as on the loop."""
        while True:
            with self._lock:
                sock = self._socket
                if not self._reading or sock is None:
                    self._taking = False
                    return None
                try:
                    frames = recv_frames(sock, NOBLOCK)
                except zmq.Again:  # (this re-armed the fd's edge)
                    frames = None
                    self._taking = True
                    poller = self._poll_for(sock)
                else:
                    self._taking = False
                    self._verify_lock.acquire()  # released by _verified
            if frames is not None:
                received = self._verified(frames)
                if received is not None:
                    return received
                continue
            ready = poller.poll(timeout * 1000)
            if not ready:
                return None
            if any(fd == self._wake_r for fd, _ in ready):  # woken: the pool wants this worker
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 512)
                return None

    def pending(self) -> bool:
        """Whether a message waits to be received (any thread; see `_input_rearmed`)."""
        with self._lock:
            sock = self._socket
            return sock is not None and self._input_rearmed(sock)

    def wake(self) -> None:
        """Make a `take` in progress (or the next one) return None (any thread)."""
        with contextlib.suppress(BlockingIOError, OSError):  # a full pipe wakes all the same
            os.write(self._wake_w, b"w")

    def _poll_for(self, sock: zmq.Socket[bytes]) -> select.poll:
        if self._poller is None or self._poller[0] is not sock:  # a new socket (a rebind)
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
            poller.register(self._wake_r, select.POLLIN)
            self._poller = (sock, poller)
        return self._poller[1]

    # -- receiving (loop thread) ---------------------------------------------

    def _on_readable(self) -> None:
        """Read and handle what is waiting, up to a batch; reschedules itself for more."""
        self._drain_scheduled = False
        for _ in range(RECEIVE_BATCH):
            with self._lock:
                sock = self._socket
                if not self._loop_reading or sock is None:
                    return
                try:
                    # No ZMQ_EVENTS check first: a non-blocking receive that
                    # finds nothing processes the socket's commands as that
                    # check does, so its EAGAIN re-arms the fd's edge too.
                    frames = recv_frames(sock, NOBLOCK)
                except zmq.Again:
                    return
                self._verify_lock.acquire()  # released by _verified
            try:
                self._receive(frames)
            except Exception:  # a bug in handling one message must not stall the rest
                log.exception("failed to handle a message")
        self._schedule_drain()  # more may wait: let replies and timers run first

    def _schedule_drain(self) -> None:
        if self._loop_reading and not self._drain_scheduled and self._loop is not None:
            self._drain_scheduled = True
            self._loop.call_soon(self._on_readable)

    def _receive(self, frames: list[bytes]) -> None:
        received = self._verified(frames)
        if received is not None:
            self._accept(*received)

    def _verified(self, frames: list[bytes]) -> Received | None:
        """The route and body of a received message, or None (dropped) if it fails
        verification. The caller took `_verify_lock` while it held the socket's
        lock, so messages reach the replay guard in the order they were received
        (a client's counter must rise); this releases it."""
        assert self._verifier is not None
        try:
            identity, proto = split_route(frames)
            received = self._verifier.verify(proto)
        except WireError as exc:
            # Bad signature, replay, oversize, malformed: drop without a
            # word (answering would help an attacker probe) and go on.
            log.warning("dropped a message: %s", getattr(exc, "reason", exc))
            return None
        finally:
            self._verify_lock.release()
        return identity, received.message
