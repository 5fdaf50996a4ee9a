"""The UVM daemon: composes the image, the worker pool, the transport and the tasks.

`transport.Transport` owns the socket, its lock, signing, the in-flight table
and every send; this module routes each verified request through the route
table (`routes`): a loop handler is answered at once on the loop, a worker
request runs on the worker that received it (`workers.WorkerPool`: one worker
listens at a time, each with its own Connection and TransactionManager; the
loop receives and queues only while no worker is idle), a loop task (a
hand-over) runs on the loop. It also owns
what runs beside the requests (the pruner, the autotelic heartbeat, the
supervisor's beat), the drain at shutdown, and its side of a hand-over
(`upgrade.host.HandoverHost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from batos_core.daemon import dispatch, suspension
from batos_core.daemon.context import DaemonInfo, DaemonLoad, HandlerContext, LoopContext
from batos_core.daemon.routes import ROUTES, Route, Runs
from batos_core.daemon.transport import Transport
from batos_core.daemon.vitals import BEAT_INTERVAL_S, Vitals
from batos_core.daemon.workers import RESCUE_AFTER_S, Job, WorkerPool
from batos_core.daemon_config import DaemonConfig
from batos_core.image import Image, Session, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.jit.misses import MissContext, MissEvents, MissHook, MissNoticed
from batos_core.jit.review import ReviewBoard
from batos_core.objects import SlotNotFound
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
from batos_core.protocol.errors import ProtocolError
from batos_core.protocol.messages import ErrorReply
from batos_core.protocol.messages.unions import dump_message, parse_request
from batos_core.protocol.replay import ReplayGuard
from batos_core.upgrade import incarnations
from batos_core.upgrade.handover import HandoverGo
from batos_core.upgrade.host import HandoverHost
from batos_core.world import reply_table

if TYPE_CHECKING:
    from batos_core.autotelic.service import AutotelicService
    from batos_core.jit.pipeline import JitCompiler
    from batos_core.world.registry import DaemonRegistry

log = logging.getLogger(__name__)

PRUNE_INTERVAL_S = 60.0


class Daemon:
    """One daemon serving one image. `run()` until shutdown is requested."""

    def __init__(
        self, config: DaemonConfig, *, on_miss: MissHook | None = None, compiler: JitCompiler | None = None
    ) -> None:
        self.config = config
        self.on_miss = on_miss  # built by the composition root (daemon.lifecycle); None: no JIT
        self.compiler = compiler  # the JIT behind on_miss, for the autotelic service's acts
        self.misses = MissEvents()  # observers of misses (the autotelic activity)
        self.autotelic: AutotelicService | None = None
        self.registry: DaemonRegistry | None = None  # on a shared world: this daemon in the world's list
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
        self.transport = Transport(config.max_frame_bytes, self._accept)
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0  # threading.get_ident() of the loop's thread, once serving
        self._info: ConnectionInfo | None = None
        self._generating = 0  # requests inside the miss hook (generating, or waiting for review)
        self._generating_lock = threading.Lock()
        self._pruner: asyncio.Task[None] | None = None
        self._retired = False  # a successor serves the image (after `batos upgrade`)
        self._loop_tasks: set[asyncio.Task[None]] = set()  # LOOP_TASK requests running (a hand-over)
        #: Under a supervisor: the loop's beat and each worker's request (`vitals`).
        self.vitals: Vitals | None = None
        self._beat_timer: asyncio.TimerHandle | None = None

    # -- lifecycle ---------------------------------------------------------

    def open(self, handover: HandoverGo | None = None) -> None:
        """Open the image, record this incarnation (and, after a hand-over, the
        upgrade's reply for its request id), start the workers."""
        self.image = open_image(
            self.config.image, migrations=MIGRATIONS, pool_size=session_budget(self.config.workers)
        )
        with self.image.session() as session:
            for attempt in session.transaction_manager.attempts():
                with attempt:
                    facts = _incarnation_facts(self.config)
                    number = incarnations.begin(session, facts, handover)
                    reply = incarnations.handover_reply(handover, number, self.info.pid)
                    if reply is not None and handover is not None:
                        reply_table.store_reply(session.root, handover.request_id, reply)
                    self.info.incarnation = number
        # A method that wedged the previous daemon is suspended before anything runs.
        suspension.apply_wedge_report(self.image, self.config.wedge_report_path())
        self._start_pool()

    def _start_pool(self) -> None:
        assert self.image is not None
        self._start_registry()
        self._start_autotelic()
        self.pool = WorkerPool(
            self.image, self.config.workers, self._run_job, _Intake(self), overlap=self.config.shared_world
        )
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
        self.transport.open(info, guard)
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
        while self._loop_tasks:  # a stop during a hand-over waits for its outcome
            await asyncio.gather(*self._loop_tasks, return_exceptions=True)
        if self._retired:
            # Already drained and closed by `suspend`; the socket path is the successor's now.
            self.transport.terminate()
            log.info("daemon %d handed the image over and stopped", os.getpid())
            return
        self._stop_tasks()
        await self._drain()
        self.transport.close()
        self.transport.terminate()
        self._cleanup_files(info)
        log.info("daemon %d stopped", os.getpid())

    def _beat(self) -> None:
        """Tell the supervisor the loop runs, now and every BEAT_INTERVAL_S while
        `serve` runs (through a hand-over's suspend too: the loop still runs)."""
        if self.vitals is None or self._loop is None:
            return
        self.vitals.beat()
        self._beat_timer = self._loop.call_later(BEAT_INTERVAL_S, self._beat)

    def _start_tasks(self) -> None:
        assert self.pool is not None
        self.transport.start_reading()
        self.pool.listen(True)
        self._pruner = asyncio.create_task(self._prune_loop())
        if self.autotelic is not None:
            self._heartbeat = asyncio.create_task(self.autotelic.heartbeat.run())

    def _start_autotelic(self) -> None:
        """The autotelic service: fed every request and miss; its heartbeat runs while serving."""
        from batos_core.autotelic.config import load_autotelic_config
        from batos_core.autotelic.service import AutotelicService

        assert self.image is not None
        try:
            settings = load_autotelic_config()
        except ValueError as exc:
            log.error("autotelic settings: %s; autotelic stays off", exc)
            settings, self.config.autotelic = None, False
        self.autotelic = AutotelicService(
            self.image, self.compiler, settings, enabled=self.config.autotelic, misses=self.misses
        )
        self.info.autotelic = self.autotelic

    def _stop_tasks(self) -> None:
        self.transport.stop_reading()
        if self.pool is not None:
            self.pool.listen(False)
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
            self.transport.pull_all(ErrorCode.SHUTTING_DOWN, "the daemon is stopping")

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
        assert self._info is not None
        self._stop_tasks()
        await self._drain()
        self.pool = None
        self.image = None
        self.transport.close(linger=1000)  # the last replies still go out
        log.info("daemon %d suspended for a hand-over (endpoint %s)", os.getpid(), self._info.endpoint)
        return self.transport.guard_state()

    async def resume(self) -> None:
        """Undo `suspend` (rollback): reopen the image, rebind, read again. Raises
        ImageError if the image cannot be reopened."""
        assert self._info is not None
        pool_size = session_budget(self.config.workers)
        self.image = await asyncio.to_thread(
            open_image, self.config.image, migrations=MIGRATIONS, pool_size=pool_size
        )
        self._start_pool()
        self.transport.rebind()
        # A successor that failed late may have rewritten it with its own pid.
        write_connection_file(self.config.connection_path(), self._info)
        self._start_tasks()

    @property
    def incarnation(self) -> int:
        return self.info.incarnation

    @property
    def image_open(self) -> bool:
        return self.image is not None

    def successor_args(self) -> list[str]:
        return standby_args(self.config)

    def successor_stderr_path(self) -> Path:
        return self.config.resolved_runtime_dir() / f"{self.config.image_id}.upgrade.stderr"

    def stored_reply(self, request_id: str) -> dict[str, Any] | None:
        assert self.image is not None
        with self.image.session() as session:
            return reply_table.stored_reply(session.root, request_id)

    def record_rollback(self, python: str, reason: str, request_id: str, reply: dict[str, Any]) -> None:
        assert self.image is not None
        with self.image.session() as session:
            for attempt in session.transaction_manager.attempts():
                with attempt:
                    incarnations.record_rollback(session, self.info.incarnation, python, reason)
                    reply_table.store_reply(session.root, request_id, reply)

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

    # -- routing (on the receiving thread: a listening worker, or the loop) ---

    def _accept(self, identity: list[bytes], body: dict[str, Any]) -> None:
        """A verified message the loop received (no worker was idle to listen)."""
        request = self._parse(identity, body)
        if request is not None:
            self._accept_request(identity, request)

    def _accept_request(self, identity: list[bytes], request: Any) -> None:
        """Route a request on the loop: answer it, start its task, or queue its job."""
        job = self._route(identity, request, on_loop=True)
        if job is not None:
            assert self.pool is not None
            self.pool.submit(job)

    def _take_job(self, timeout: float) -> Job | None:
        """On a listening worker: the job of the next request, which this worker
        runs; None when none came in `timeout` s or it is answered elsewhere."""
        received = self.transport.take(timeout)
        if received is None:
            return None
        identity, body = received
        request = self._parse(identity, body)
        if request is None:
            return None
        return self._route(identity, request, on_loop=False)

    def _parse(self, identity: list[bytes], body: dict[str, Any]) -> Any:
        """The request `body` holds, or None after answering why it is invalid."""
        try:
            return parse_request(body)
        except ValidationError as exc:
            request_id = body.get("id") if isinstance(body.get("id"), str) else ""
            code = ErrorCode.BAD_REQUEST if _known_type(body.get("type")) else ErrorCode.UNKNOWN_TYPE
            self.transport.reply_now(
                identity,
                ErrorReply(
                    id=str(request_id)[:128],
                    name="ValidationError",
                    message=_validation_summary(exc),
                    code=str(code),
                ),
            )
            return None

    def _route(self, identity: list[bytes], request: Any, *, on_loop: bool) -> Job | None:
        """Do what the route table says with `request`; the job to run on a worker, if any."""
        route = ROUTES[request.type]
        if route.runs is not Runs.WORKER and not on_loop:
            # A worker received it: status, cancel and hand-overs belong to the loop.
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._accept_request, identity, request)
            return None
        if route.runs is Runs.LOOP:
            loop: LoopContext = self  # (the type checker proves the Daemon is one)
            self.transport.reply_now(identity, route.handler(loop, request))
            return None
        if self.autotelic is not None:  # idleness, message mix, pre-emption of an act
            self.autotelic.on_request(request.type, request.id, getattr(request, "selector", None))
        entry = self.transport.track(request.id, identity)
        if entry is None:
            return None  # a retry of a request still running: answered with it
        rid = request.id
        if route.runs is Runs.LOOP_TASK:
            task = asyncio.create_task(self._run_loop_task(route, request))
            self._loop_tasks.add(task)
            task.add_done_callback(self._loop_tasks.discard)
            return None
        transport = self.transport
        return Job(
            request=request,
            reply=lambda message: transport.finish(rid, message),
            event=lambda kind, data: transport.event(rid, kind, data),
            cancel=entry.cancel,
        )

    def _rescue_tick(self) -> None:
        """The loop's look at the worker that holds the listener role (`WorkerPool.rescue`)."""
        if self.pool is not None and self._loop is not None and self.pool.rescue(RESCUE_AFTER_S):
            self._loop.call_later(RESCUE_AFTER_S, self._rescue_tick)

    def _loop_listens(self, listening: bool) -> None:
        """Start or stop the loop's receiving (the pool asks; see workers.RequestSource)."""
        loop = self._loop
        assert loop is not None
        if threading.get_ident() == self._loop_thread:
            self.transport.loop_reads(listening)
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing is read any more
                loop.call_soon_threadsafe(self.transport.loop_reads, listening)

    async def _run_loop_task(self, route: Route, request: Any) -> None:
        """Run a ``LOOP_TASK`` handler and answer its request (unless it returns None:
        another process answers it, e.g. the successor after a hand-over)."""
        rid = request.id
        try:
            reply = await route.handler(
                self, request, lambda kind, data: self.transport.event(rid, kind, data)
            )
        except Exception as exc:
            log.exception("%s %s failed", request.type, rid)
            reply = dump_message(ErrorReply.from_exception(rid, exc, ErrorCode.INTERNAL))
        if reply is None:
            self.transport.forget(rid)
        else:
            self.transport.finish(rid, reply)

    # -- what loop handlers see (daemon.context.LoopContext) ------------------

    @property
    def handover(self) -> HandoverHost:
        return self

    def load(self) -> DaemonLoad:
        assert self.pool is not None
        return DaemonLoad(
            workers=self.pool.size,
            queue_depth=self.pool.depth(),
            stand_ins=self.pool.stand_ins,
            storage=self.image.spec.scheme if self.image is not None else "",
            daemons=self.registry.snapshot() if self.registry is not None else [],
        )

    def cancel(self, target: str) -> bool:
        entry = self.transport.in_flight(target)
        if entry is not None:
            entry.cancel.pull(ErrorCode.CANCELLED, "cancelled by a client", withdrawn=True)
        return entry is not None

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
            return dispatch.execute(ctx, job.request, self._miss)
        except BaseException as exc:
            log.exception("internal error on %s", job.request.id)
            dispatch.abort_session(session)
            return dump_message(ErrorReply.from_exception(job.request.id, exc, ErrorCode.INTERNAL))
        finally:
            if vitals is not None:
                vitals.end()

    def _miss(self, miss: SlotNotFound, ctx: MissContext, request: Any) -> bool:
        """Tell the miss's observers, then run the miss hook, counted (a hand-over
        waits for these to finish). No hook: False, answered ``slot_not_found``."""
        self.misses.notify(MissNoticed(request.id, miss.selector, miss.receiver_oid))
        if self.on_miss is None:
            return False
        with self._generating_lock:
            self._generating += 1
        try:
            return self.on_miss(miss, ctx, request)
        finally:
            with self._generating_lock:
                self._generating -= 1

    async def settle_generations(self, emit: Callable[[str, dict[str, Any]], None], grace_s: float) -> None:
        """Before a hand-over: wait, still serving, until no method is being
        generated (or waits for review); after `grace_s`, stop those still
        running (their requests are answered ``shutting_down``)."""
        deadline = time.monotonic() + grace_s
        shown = -1
        while True:
            with self._generating_lock:
                running = self._generating
            if running == 0:
                return
            if time.monotonic() >= deadline:
                log.warning("hand-over: stopping %d generation(s) still running after %g s", running, grace_s)
                self.transport.pull_all(ErrorCode.SHUTTING_DOWN, "the daemon is being upgraded")
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
    return isinstance(value, str) and value in ROUTES


def standby_args(config: DaemonConfig) -> list[str]:
    """Arguments of ``python -m batos_core.daemon`` for a successor of a daemon with `config`:
    its own settings (`DaemonConfig.to_argv`), in its runtime dir, in standby."""
    successor = dataclasses.replace(config, runtime_dir=config.resolved_runtime_dir())
    return ["-m", "batos_core.daemon", "--standby", *successor.to_argv()]


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


__all__ = ["Daemon"]


class _Intake:
    """The worker pool's `RequestSource`: the daemon's transport and routing."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def take(self, timeout: float) -> Job | None:
        return self._daemon._take_job(timeout)

    def wake(self) -> None:
        self._daemon.transport.wake()

    def loop_listens(self, listening: bool) -> None:
        self._daemon._loop_listens(listening)

    def watch(self) -> None:
        loop = self._daemon._loop
        assert loop is not None
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing is left to look after
            loop.call_soon_threadsafe(self._daemon._rescue_tick)

    def pending(self) -> bool:
        return self._daemon.transport.pending()

