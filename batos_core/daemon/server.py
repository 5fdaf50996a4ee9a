"""The UVM daemon's event loop: a ROUTER socket, verification, dispatch to workers.

The asyncio thread owns the socket and does only cheap work: frame checks,
signature and replay verification, validation, and routing. The socket is a
plain (not ``zmq.asyncio``) ROUTER whose ``ZMQ_FD`` is watched with
``loop.add_reader``; a readable signal drains every waiting message in one
callback, with no future per message. That fd is edge-triggered: any operation
on the socket, a send included, can consume the edge, so after each send the
loop checks ``ZMQ_EVENTS`` and schedules a drain itself when input is waiting. Everything that
touches the image runs on worker threads (`workers.WorkerPool`), each with its
own Connection and TransactionManager. A worker signs and sends its reply (and
its events) itself, under the socket lock, instead of handing it back to the
loop: libzmq allows a socket to move between threads across a full memory
barrier, which the lock provides, and the hand-back cost a self-pipe wake-up
and a contended GIL hand-over per frame sent (see docs/architecture.md,
"Daemon speed"). A request id that is already in flight is not run twice: the
retry is attached to the running request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import zmq
from pydantic import ValidationError

from batos_core.daemon import dispatch, reply_table, suspension
from batos_core.daemon.config import DaemonConfig
from batos_core.daemon.context import Cancellation, DaemonInfo, HandlerContext
from batos_core.daemon.handlers import LOOP_HANDLERS
from batos_core.daemon.vitals import BEAT_INTERVAL_S, Vitals
from batos_core.daemon.workers import Job, WorkerPool
from batos_core.image import Image, Session, open_image
from batos_core.jit.review import ReviewBoard
from batos_core.protocol.codes import ErrorCode
from batos_core.protocol.connection import (
    ConnectionInfo,
    ipc_endpoint,
    new_key,
    read_connection_file,
    tcp_endpoint,
    transport_of,
    write_connection_file,
)
from batos_core.protocol.constants import PROTOCOL_VERSION
from batos_core.protocol.errors import ProtocolError, WireError
from batos_core.protocol.messages import CancelReply, ErrorReply, ShutdownReply, StatusReply
from batos_core.protocol.messages.unions import dump_message, parse_request
from batos_core.protocol.replay import ReplayGuard
from batos_core.protocol.sockio import NOBLOCK, input_waiting, send_frames
from batos_core.protocol.wire import FRAME_COUNT, Signer, Verifier, split_route
from batos_core.upgrade import incarnations
from batos_core.upgrade.handover import HandoverGo

if TYPE_CHECKING:
    from batos_core.autotelic.service import AutotelicService
    from batos_core.world.registry import DaemonRegistry

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 60.0
#: Messages read per readable callback before yielding to other loop callbacks.
RECEIVE_BATCH = 64


@dataclass
class _InFlight:
    identities: list[list[bytes]] = field(default_factory=list)
    cancel: Cancellation = field(default_factory=Cancellation)


class Daemon:
    """One daemon serving one image. `run()` until shutdown is requested."""

    def __init__(self, config: DaemonConfig, *, on_miss: dispatch.MissHook | None = None) -> None:
        self.config = config
        self.on_miss = on_miss
        self.autotelic: AutotelicService | None = None
        self.registry: DaemonRegistry | None = None  # on a shared world: this daemon in the world's list
        self._observed_miss: dispatch.MissHook | None = on_miss
        self._heartbeat: asyncio.Task[None] | None = None
        self.reviews = ReviewBoard()  # generated methods waiting for approval (--review)
        self.image: Image | None = None
        self.pool: WorkerPool | None = None
        self.info = DaemonInfo(
            pid=os.getpid(),
            image=config.image_uri,
            started=time.time(),
            workers=config.workers,
            backend=config.backend,
            model=config.model,
        )
        self._inflight: dict[str, _InFlight] = {}
        # Held around every use of the socket, the signer and `_inflight`: the
        # loop receives, workers (and the loop) send.
        self._lock = threading.Lock()
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0  # threading.get_ident() of the loop's thread
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._info: ConnectionInfo | None = None
        self._socket: zmq.Socket[bytes] | None = None
        self._signer: Signer | None = None
        self._verifier: Verifier | None = None
        self._reading = False  # the socket's fd is watched (between _start_tasks and _stop_tasks)
        self._drain_scheduled = False
        self._generating = 0  # requests inside the miss hook (generating, or waiting for review)
        self._pruner: asyncio.Task[None] | None = None
        self._retired = False  # a successor serves the image (after `batos upgrade`)
        self._upgrade_task: asyncio.Task[None] | None = None
        #: Under a supervisor: the loop's beat and each worker's request (`vitals`).
        self.vitals: Vitals | None = None
        self._beat_timer: asyncio.TimerHandle | None = None

    # -- lifecycle ---------------------------------------------------------

    def open(self, handover: HandoverGo | None = None) -> None:
        """Open the image, record this incarnation (and, after a hand-over, the
        upgrade's reply for its request id), start the workers."""
        self.image = open_image(self.config.image, pool_size=session_budget(self.config.workers))
        with self.image.session() as session:
            for attempt in session.transaction_manager.attempts():
                with attempt:
                    facts = _incarnation_facts(self.config)
                    self.info.incarnation = incarnations.begin(session, facts, handover)
        # A method that wedged the previous daemon is suspended before anything runs.
        suspension.apply_wedge_report(self.image, self.config.wedge_report_path())
        self._start_pool()

    def _start_pool(self) -> None:
        assert self.image is not None
        self._start_registry()
        self._start_autotelic()
        self.pool = WorkerPool(self.image, self.config.workers, self._run_job)
        self.info.queue_depth = self.pool.depth
        # A worker waiting for a review decision lends its place to a stand-in.
        self.reviews.blocking = self.pool.stand_in
        self.pool.start()

    async def serve(
        self, ready: Callable[[ConnectionInfo], None] | None = None, *, guard: ReplayGuard | None = None
    ) -> None:
        """Bind, announce readiness, serve until a shutdown request or SIGTERM, then drain.

        `guard` continues a predecessor's replay guard (a hand-over); by default
        nothing signed before this daemon started is accepted.
        """
        if self.pool is None:
            self.open()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopping = asyncio.Event()
        info = self._info = self._connection_info()
        ctx = self._ctx = zmq.Context()
        self._bind(info)
        self._signer = Signer(info.key, max_frame_bytes=self.config.max_frame_bytes)
        self._verifier = Verifier(
            info.key,
            # Not `guard or ...`: a guard that knows no session yet has len() 0.
            guard if guard is not None else ReplayGuard(skew_ns=0),
            max_frame_bytes=self.config.max_frame_bytes,
        )
        write_connection_file(self.config.connection_path(), info)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                self._loop.add_signal_handler(sig, self.request_stop)
        log.info("daemon %d serving %s on %s", os.getpid(), self.config.image_uri, info.endpoint)
        if ready is not None:
            ready(info)
        self._start_tasks()
        self._beat()
        await self._stopping.wait()
        if self._upgrade_task is not None:
            await self._upgrade_task  # a stop during a hand-over waits for its outcome
        if self._retired:
            # Already drained and closed by `suspend`; the socket path is the successor's now.
            ctx.term()
            log.info("daemon %d handed the image over and stopped", os.getpid())
            return
        self._stop_tasks()
        await self._drain()
        with self._lock:
            assert self._socket is not None
            self._socket.close()
            self._socket = None
        ctx.term()
        self._cleanup_files(info)
        log.info("daemon %d stopped", os.getpid())

    def _beat(self) -> None:
        """Tell the supervisor the loop runs, now and every BEAT_INTERVAL_S while
        `serve` runs (through a hand-over's suspend too: the loop still runs)."""
        if self.vitals is None or self._loop is None:
            return
        self.vitals.beat()
        self._beat_timer = self._loop.call_later(BEAT_INTERVAL_S, self._beat)

    def _bind(self, info: ConnectionInfo) -> None:
        assert self._ctx is not None
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 1000)
        # libzmq drops (and disconnects) a peer whose frame exceeds this, before
        # we ever see it: huge declared lengths never allocate.
        sock.setsockopt(zmq.MAXMSGSIZE, self.config.max_frame_bytes + 4096)
        sock.bind(info.endpoint)
        if info.transport == "ipc":
            os.chmod(info.endpoint[len("ipc://") :], 0o600)
        with self._lock:
            self._socket = sock

    def _start_tasks(self) -> None:
        assert self._socket is not None and self._loop is not None
        self._loop.add_reader(self._socket.fileno(), self._on_readable)
        self._reading = True
        self._schedule_drain()  # anything that arrived before the fd was watched
        self._pruner = asyncio.create_task(self._prune_loop())
        if self.autotelic is not None:
            self._heartbeat = asyncio.create_task(self.autotelic.heartbeat.run())

    def _start_autotelic(self) -> None:
        """The autotelic service: fed every request and miss; its heartbeat runs while serving."""
        from batos_core.autotelic.config import load_autotelic_config
        from batos_core.autotelic.service import AutotelicService, compiler_of

        assert self.image is not None
        try:
            settings = load_autotelic_config()
        except ValueError as exc:
            log.error("autotelic settings: %s; autotelic stays off", exc)
            settings, self.config.autotelic = None, False
        self.autotelic = AutotelicService(
            self.image, compiler_of(self.on_miss), settings, enabled=self.config.autotelic
        )
        self.info.autotelic = self.autotelic
        self._observed_miss = self.autotelic.activity.observe_misses(self.on_miss)

    def _stop_tasks(self) -> None:
        if self._reading:
            assert self._socket is not None and self._loop is not None
            self._loop.remove_reader(self._socket.fileno())
            self._reading = False
        for task in (self._pruner, self._heartbeat):
            if task is not None:
                task.cancel()

    def request_stop(self) -> None:
        """Stop reading requests; in-flight ones finish and are answered, then exit.

        A method being generated stops at its next token (its request is
        answered ``shutting_down``): draining must not wait minutes for a model.
        """
        if self._stopping is not None and not self._stopping.is_set():
            log.info("stop requested: draining")
            self._stopping.set()
            with self._lock:
                pending = list(self._inflight.values())
            for entry in pending:
                entry.cancel.pull(ErrorCode.SHUTTING_DOWN, "the daemon is stopping")

    def _start_registry(self) -> None:
        """On a shared world: this daemon's entry in the world's registry (`world.registry`)."""
        assert self.image is not None
        if not self.config.shared_world:
            return
        import socket

        from batos_core.world.generation_claims import holder_id
        from batos_core.world.registry import DaemonRegistry

        facts = {
            "host": socket.gethostname(),
            "pid": self.info.pid,
            "instance": self.config.instance,
            "incarnation": self.info.incarnation,
            "started": self.info.started,
            "tcp": self.config.tcp or "",
        }
        self.registry = DaemonRegistry(self.image.db, holder_id(), facts)
        self.registry.start()

    async def _drain(self) -> None:
        assert self.pool is not None and self.image is not None
        # A proposal waiting for review would hold its worker, and so the drain,
        # for up to the review timeout: reject the waiting ones (and any filed now).
        self.reviews.close("the daemon is stopping")
        if self.autotelic is not None:  # cancels and joins a running act (its own session)
            await asyncio.to_thread(self.autotelic.close)
        await asyncio.to_thread(self.pool.drain)  # workers have sent their last replies
        if self.registry is not None:
            await asyncio.to_thread(self.registry.stop)
            self.registry = None
        self.image.close()
        self.reviews = ReviewBoard()  # a daemon that serves on (a rolled-back upgrade) reviews again

    # -- hand-over (batos upgrade; see batos_core.upgrade.handover) --------

    async def suspend(self) -> dict[str, Any]:
        """Stop reading, finish and answer in-flight requests, close the image and
        the socket; returns the replay guard's state for the successor.

        The ipc socket file stays (libzmq leaves it on close; `_cleanup_files` is
        skipped), so until the successor binds over it, clients and `batos`
        commands still see a daemon and wait instead of starting another.
        """
        assert self._socket is not None and self._verifier is not None and self._info is not None
        self._stop_tasks()
        await self._drain()
        self.pool = None
        self.image = None
        info = self._info
        with self._lock:
            self._socket.close(linger=1000)  # the last replies still go out
            self._socket = None
        log.info("daemon %d suspended for a hand-over (endpoint %s)", os.getpid(), info.endpoint)
        return self._verifier.guard.export_state()

    async def resume(self) -> None:
        """Undo `suspend` (rollback): reopen the image, rebind, read again. Raises
        ImageError if the image cannot be reopened."""
        assert self._info is not None
        self.image = await asyncio.to_thread(
            open_image, self.config.image, pool_size=session_budget(self.config.workers)
        )
        self._start_pool()
        self._bind(self._info)
        # A successor that failed late may have rewritten it with its own pid.
        write_connection_file(self.config.connection_path(), self._info)
        self._start_tasks()

    def retire(self) -> None:
        """A successor serves the image: leave `serve` without draining again."""
        self._retired = True
        if self._stopping is not None:
            self._stopping.set()

    def _connection_info(self) -> ConnectionInfo:
        runtime = self.config.resolved_runtime_dir()
        path = self.config.connection_path()
        key = None
        if path.exists():
            # Keep the key across restarts and upgrades so running clients stay valid.
            with contextlib.suppress(ProtocolError, OSError, ValueError):
                key = read_connection_file(path).key
        if self.config.tcp:
            endpoint = tcp_endpoint(self.config.tcp)
        else:
            endpoint = ipc_endpoint(runtime, self.config.image_id)
        return ConnectionInfo(
            endpoint=endpoint,
            key=key or new_key(),
            transport=transport_of(endpoint),
            image=self.config.image_uri,
            pid=os.getpid(),
        )

    def _cleanup_files(self, info: ConnectionInfo) -> None:
        # The connection file stays (its key is reused by the next daemon); its
        # pid no longer answers, which clients detect.
        if info.transport == "ipc":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(info.endpoint[len("ipc://") :])

    # -- receiving ---------------------------------------------------------

    def _on_readable(self) -> None:
        """Read and handle what is waiting, up to a batch; reschedules itself for more."""
        self._drain_scheduled = False
        for _ in range(RECEIVE_BATCH):
            with self._lock:
                sock = self._socket
                if not self._reading or sock is None or not input_waiting(sock):
                    return
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    return
            try:
                self._receive(frames)
            except Exception:  # a bug in handling one message must not stall the rest
                log.exception("failed to handle a message")
        self._schedule_drain()  # more may wait: let replies and timers run first

    def _schedule_drain(self) -> None:
        if self._reading and not self._drain_scheduled and self._loop is not None:
            self._drain_scheduled = True
            self._loop.call_soon(self._on_readable)

    def _receive(self, frames: list[bytes]) -> None:
        assert self._verifier is not None
        try:
            identity, proto = split_route(frames)
            received = self._verifier.verify(proto)
        except WireError as exc:
            # Bad signature, replay, oversize, malformed: drop without a
            # word (answering would help an attacker probe) and go on.
            log.warning("dropped a message: %s", getattr(exc, "reason", exc))
            return
        self._accept(identity, received.message)

    def _accept(self, identity: list[bytes], body: dict[str, Any]) -> None:
        request_id = body.get("id") if isinstance(body.get("id"), str) else ""
        try:
            request = parse_request(body)
        except ValidationError as exc:
            code = ErrorCode.BAD_REQUEST if _known_type(body.get("type")) else ErrorCode.UNKNOWN_TYPE
            self._reply_now(
                identity,
                ErrorReply(
                    id=str(request_id)[:128],
                    name="ValidationError",
                    message=_validation_summary(exc),
                    code=str(code),
                ),
            )
            return
        if request.type == "status_request":
            self._reply_now(identity, self._status(request.id))
            return
        if request.type == "shutdown_request":
            self._reply_now(identity, ShutdownReply(id=request.id))
            self.request_stop()
            return
        if request.type == "cancel_request":
            self._reply_now(identity, self._cancel(request.id, request.target))
            return
        review_handler = LOOP_HANDLERS.get(request.type)
        if review_handler is not None:
            self._reply_now(identity, review_handler(self.reviews, request))
            return
        if self.autotelic is not None:  # idleness, message mix, pre-emption of an act
            self.autotelic.on_request(request.type, request.id, getattr(request, "selector", None))
        with self._lock:
            pending = self._inflight.get(request.id)
            if pending is not None:
                # A retry of a request still running: answer both when it finishes.
                pending.identities.append(identity)
                return
            entry = self._inflight[request.id] = _InFlight([identity])
        if request.type == "upgrade_request":
            # Runs on the loop: it stops and restarts the loop's own reading.
            self._upgrade_task = asyncio.create_task(self._upgrade(request))
            return
        assert self.pool is not None
        rid = request.id
        self.pool.submit(
            Job(
                request=request,
                reply=lambda message: self._finish(rid, message),
                event=lambda kind, data: self._event(rid, kind, data),
                cancel=entry.cancel,
            )
        )

    async def _upgrade(self, request: Any) -> None:
        from batos_core.upgrade.handover import hand_over

        rid = request.id
        try:
            reply = await hand_over(self, request, lambda kind, data: self._event(rid, kind, data))
        except Exception as exc:
            log.exception("upgrade %s failed", rid)
            reply = dump_message(ErrorReply.from_exception(rid, exc, ErrorCode.INTERNAL))
        if reply is None:
            with self._lock:
                self._inflight.pop(rid, None)  # the successor answers it from the reply table
        else:
            self._finish(rid, reply)

    def _cancel(self, request_id: str, target: str) -> CancelReply:
        """Pull the cancel switch of request `target` if it is in flight."""
        with self._lock:
            entry = self._inflight.get(target)
        if entry is not None:
            log.info("request %s cancelled by a client", target)
            entry.cancel.pull(ErrorCode.CANCELLED, "cancelled by a client", withdrawn=True)
        return CancelReply(id=request_id, target=target, cancelled=entry is not None)

    def _status(self, request_id: str) -> StatusReply:
        assert self.pool is not None
        serving = self.info.serving()
        return StatusReply(
            id=request_id,
            pid=self.info.pid,
            image=self.info.image,
            protocol_version=PROTOCOL_VERSION,
            uptime_s=max(0.0, time.time() - self.info.started),
            incarnation=self.info.incarnation,
            workers=self.pool.size,
            queue_depth=self.pool.depth(),
            stand_ins=self.pool.stand_ins,
            backend=self.info.backend,
            model=self.info.model,
            engine=serving.engine,
            quantization=serving.quantization,
            storage=self.image.spec.scheme if self.image is not None else "",
            daemons=self.registry.snapshot() if self.registry is not None else [],
        )

    # -- replying (any thread) ------------------------------------------------

    def _finish(self, request_id: str, message: dict[str, Any]) -> None:
        """Answer every client waiting for `request_id` and forget it."""
        body = self._encode(message)
        with self._lock:
            pending = self._inflight.pop(request_id, None)
            self._send_locked(pending.identities if pending else [], body)

    def _event(self, request_id: str, kind: str, data: dict[str, Any]) -> None:
        message = {"type": "event", "id": request_id, "kind": kind, "data": data}
        body = self._encode(message)
        with self._lock:
            pending = self._inflight.get(request_id)
            self._send_locked(pending.identities if pending else [], body)

    def _reply_now(self, identity: list[bytes], model: Any) -> None:
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
            why = f"the reply exceeds the {self.config.max_frame_bytes}-byte frame cap"
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
        # The send may have consumed the fd's edge for input that is waiting.
        if self._reading and input_waiting(sock):
            loop = self._loop
            assert loop is not None
            if threading.get_ident() == self._loop_thread:
                self._schedule_drain()
            else:
                loop.call_soon_threadsafe(self._schedule_drain)

    # -- workers -----------------------------------------------------------

    def _run_job(self, session: Session, job: Job) -> dict[str, Any]:
        if job.cancel.withdrawn:  # cancelled while it waited for a worker: never runs
            return dispatch.cancelled_reply(job.request.id, job.cancel)
        ctx = HandlerContext(
            session=session,
            config=self.config,
            info=self.info,
            emit=job.event,
            reviews=self.reviews,
            cancel=job.cancel,
        )
        vitals = self.vitals
        if vitals is not None:  # what the supervisor blames if this request wedges the daemon
            request = job.request
            receiver = getattr(request, "receiver", None) or getattr(request, "target", "")
            vitals.begin(request.id, request.type, str(receiver), str(getattr(request, "selector", "")))
        try:
            return dispatch.execute(ctx, job.request, self._miss if self._observed_miss else None)
        except BaseException as exc:
            log.exception("internal error on %s", job.request.id)
            dispatch.abort_session(session)
            return dump_message(ErrorReply.from_exception(job.request.id, exc, ErrorCode.INTERNAL))
        finally:
            if vitals is not None:
                vitals.end()

    def _miss(self, miss: Any, ctx: HandlerContext, request: Any) -> bool:
        """The miss hook, counted (a hand-over waits for these to finish)."""
        assert self._observed_miss is not None
        with self._lock:
            self._generating += 1
        try:
            return self._observed_miss(miss, ctx, request)
        finally:
            with self._lock:
                self._generating -= 1

    async def settle_generations(self, emit: Callable[[str, dict[str, Any]], None], grace_s: float) -> None:
        """Before a hand-over: wait, still serving, until no method is being
        generated (or waits for review); after `grace_s`, stop those still
        running (their requests are answered ``shutting_down``)."""
        deadline = time.monotonic() + grace_s
        shown = -1
        while True:
            with self._lock:
                running = self._generating
                pending = list(self._inflight.values())
            if running == 0:
                return
            if time.monotonic() >= deadline:
                log.warning("hand-over: stopping %d generation(s) still running after %g s", running, grace_s)
                for entry in pending:
                    entry.cancel.pull(ErrorCode.SHUTTING_DOWN, "the daemon is being upgraded")
                return
            if running != shown:
                shown = running
                emit("phase", {"phase": "waiting for generations", "running": running})
            await asyncio.sleep(0.05)

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_INTERVAL_S)
            await asyncio.to_thread(self._prune_once)

    def _prune_once(self) -> None:
        if self.image is None:  # closed for a hand-over
            return
        with self.image.session() as session:
            try:
                for attempt in session.transaction_manager.attempts(5):
                    with attempt:
                        dropped = reply_table.prune(session.root, self.config.reply_table_size)
                if dropped:
                    log.info("pruned %d stored replies", dropped)
            except Exception:
                log.exception("pruning the reply table failed")


def session_budget(workers: int) -> int:
    """Sessions the daemon may hold at once: one per worker, one per stand-in for a
    worker waiting on a review (at most one per worker in practice), the
    autotelic service's, the pruner's and a spare. Beyond it ZODB only logs."""
    return 2 * workers + 3


def _known_type(value: object) -> bool:
    from batos_core.daemon.handlers import HANDLERS

    if isinstance(value, str) and value in LOOP_HANDLERS:
        return True

    return isinstance(value, str) and (
        value in HANDLERS
        or value in ("status_request", "shutdown_request", "cancel_request", "upgrade_request")
    )


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts) or str(exc)


def _incarnation_facts(config: DaemonConfig) -> dict[str, Any]:
    import platform
    import sys

    from batos_core import __version__

    return {
        "pid": os.getpid(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "batos": __version__,
        "backend": config.backend,
        "model": config.model,
    }


__all__ = ["FRAME_COUNT", "Daemon"]
