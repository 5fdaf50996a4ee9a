"""Worker threads: each owns one image Session (Connection + TransactionManager).

**Who receives.** One worker at a time holds the *listener role*: it waits on
the socket itself (`RequestSource.take`, no GIL held while it waits), runs the
request it receives on its own thread, answers it, and waits on the socket
again. A request thus costs no hand-over between threads, and one client's
requests, or many clients' short ones, run back to back on one warm worker,
the shape of a bare single-threaded server.

**When a request runs long.** Nothing listens while the role's holder runs a
request, so the daemon's event loop looks every `RESCUE_AFTER_S`
(`rescue`, asked for through `RequestSource.watch` while requests run): a
holder busy for longer loses the role to the most recently idle worker, or to
the loop itself when none is idle (`RequestSource.loop_listens`). Requests
the loop receives wait in the pool's queue (`submit`) for the first free
worker; status and cancel requests are answered by the loop at once, so they
get through while every worker is busy: the rescue takes up to about two
`RESCUE_AFTER_S`, and a request that holds the GIL adds the interpreter's
switch interval to each thread that must answer (17-33 ms measured with one
stuck in ``while True:``, as before this design; bench/bench_busy.py). Two
cases pass the role sooner, when other requests wait: a holder about to wait
for a slow disk (`_before_disk_wait`, told by `image.group_commit`), so that
concurrent commits share an fsync; and, on a storage server, a holder that
has just taken a request (`overlap`).

**Replies wait for the disk, not transactions.** On the embedded FileStorage
(`image.group_commit`) a worker's transactions do not wait for their fsync
when they end (`defer_durability`); the transport waits before it sends
anything, so no reply or event leaves before the disk has what it could
depend on. The role's holder uses the difference: when its commit is not yet
on disk and other requests wait, it holds the reply back and runs the next
request first, up to `HOLD_REPLIES_MAX` replies; then one fsync covers them
all and they leave in order. A bare single-threaded server waits for an
fsync per commit; this holder, busy with the next request meanwhile, does
not (docs/performance.md, "Replies held for one fsync"). Nothing waits long
for the batch: the holder sends it as soon as nothing more waits on the
socket, and if the request it runs meanwhile lasts `RESCUE_AFTER_S`, the
loop's look sends the held replies from a thread of their own.

Each job's reply and events go out through the job's callbacks, on the
worker's thread. `drain()` lets queued and in-flight jobs finish, then closes
sessions. Queued jobs go to idle workers last-in, first-out: a Connection's
object cache holds what its last transactions touched, and a commit by one
worker invalidates those objects in every other worker's cache. Jobs that
arrive while every worker is busy wait in a FIFO backlog and keep their
arrival order. A worker that waits for a review decision is stood in for
(`WorkerPool.stand_in`).

Why workers receive: handing each request from the loop thread to a worker
cost a thread wake-up and a GIL hand-over on every round trip
(docs/performance.md, "The daemon against its ceilings").
"""

from __future__ import annotations

import collections
import contextlib
import enum
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from batos_core.daemon.context import Cancellation
from batos_core.daemon.dispatch import abort_session
from batos_core.image import Image, Session
from batos_core.image.group_commit import (
    DiskDebt,
    GroupCommitFileStorage,
    before_disk_waits,
    defer_durability,
    settle_durability,
)

log = logging.getLogger(__name__)

#: How long the listener role's holder may run one request while others wait
#: before another thread listens in its place; also the period of the loop's
#: look (`rescue`).
RESCUE_AFTER_S = 0.005

#: How long a listening worker waits on the socket before it looks at the pool
#: again; a queued job, a stop or a drain wakes it at once (`RequestSource.wake`).
LISTEN_POLL_S = 1.0

#: A holder about to wait at least this long for the disk (recent fsyncs took
#: as long) hands the role on if other requests wait: on a slow disk, their
#: commits then share its fsync (group commit) instead of each waiting for
#: its own, one after another. On this project's VM an fsync takes 0.12-0.16 ms.
HAND_ON_BEFORE_DISK_WAIT_S = 0.001

#: How many replies the role's holder may hold back while it runs the requests
#: that wait, before one fsync covers them all (see `_work`). Each held reply
#: waits for the requests run after it, about half a millisecond each here.
HOLD_REPLIES_MAX = 8


@dataclass
class Job:
    """One validated request and where its outcome goes."""

    request: Any
    reply: Callable[[dict[str, Any]], None]
    event: Callable[[str, dict[str, Any]], None]
    cancel: Cancellation = field(default_factory=Cancellation)


Runner = Callable[[Session, Job], dict[str, Any]]


class RequestSource(Protocol):
    """Where the listener's requests come from, and the loop's part (the daemon)."""

    def take(self, timeout: float) -> Job | None:
        """Wait up to `timeout` s for the next request and return its job, for the
        calling worker to run; None when nothing came, when `wake` was called, or
        when what came is answered elsewhere (a loop request, a joined retry, a
        bad one)."""

    def wake(self) -> None:
        """Make a `take` in progress return now (any thread)."""

    def loop_listens(self, listening: bool) -> None:
        """Have the event loop receive requests (True: no worker is idle to) or stop.
        Called under the pool's lock, in the order decided."""

    def watch(self) -> None:
        """Have the loop call `WorkerPool.rescue` every RESCUE_AFTER_S until it
        returns False (any thread; called under the pool's lock)."""

    def pending(self) -> bool:
        """Whether requests wait on the socket, received by nobody yet (any thread)."""


class _Idle(enum.Enum):
    """What a worker with no job in hand does next."""

    WAIT = "wait"  # on the idle stack: block on its slot
    STOP = "stop"  # the pool is draining and nothing is left
    LISTEN = "listen"  # it holds the listener role: wait on the socket
    CLAIM = "claim"  # it gave up the role: ask the pool what next


#: What a worker's own queue carries: a job, None to stop, or LISTEN (the role is its now).
_Slot = queue.SimpleQueue[Job | None | _Idle]


def _send(job: Job, reply: dict[str, Any]) -> None:
    """Send `reply` once the disk has what this thread's transactions wrote or read."""
    try:
        settle_durability()
        job.reply(reply)
    except Exception:  # the worker (or thread) that sends must live on
        log.exception("could not send the reply to %s", getattr(job.request, "id", "?"))


@dataclass
class _HeldReplies:
    """Replies held back until the disk has what they depend on, and that disk."""

    replies: list[tuple[Job, dict[str, Any]]]
    storages: list[GroupCommitFileStorage]

    def send(self) -> None:
        """Wait for the disk (one fsync, shared), then send them in order."""
        for storage in self.storages:
            storage.wait_durable()
        for job, reply in self.replies:
            _send(job, reply)


class WorkerPool:
    """N threads, each with its own Session; jobs start in arrival order.

    Without a `RequestSource`, jobs come only through `submit`. `overlap`: the
    storage is a server (ZEO, PostgreSQL), whose commits wait on round trips:
    when the role's holder takes a request and more wait, an idle worker
    takes the role at once and runs the next one meanwhile. Without it (the
    embedded FileStorage, where a request is CPU work under one GIL) the holder
    keeps the role, and requests run back to back on one warm thread, which
    measured faster (docs/performance.md)."""

    def __init__(
        self,
        image: Image,
        size: int,
        run: Runner,
        source: RequestSource | None = None,
        *,
        overlap: bool = False,
    ) -> None:
        self._image = image
        self._run = run
        self._source = source
        self._overlap = overlap  # pass the role on at once when others wait (see `_listen`)
        self._lock = threading.Lock()
        self._backlog: collections.deque[Job] = collections.deque()
        self._idle: list[_Slot] = []  # a stack: the most recently idle worker last
        self._stopping = False
        self._size = size
        self._threads: list[threading.Thread] = []
        self._unfinished = 0  # submitted or received, and not yet run to the end
        self._stand_ins = 0  # threads running in place of workers that wait (see stand_in)
        self._retiring = 0  # threads to stop at their next idle moment
        self._spawned = 0  # threads started so far (names them)
        # The listener role (see the module's docstring):
        self._listening = False  # between listen(True) and listen(False)
        self._holder: _Slot | None = None  # the worker that holds it
        self._holder_busy_since: float | None = None  # when its current request began; None: it listens
        self._loop_listening = False  # the loop receives (asked through the source)
        self._watched = False  # the loop calls `rescue` (asked through the source)
        self._held_jobs = 0  # requests begun by holders so far
        self._held_jobs_seen = 0  # ... at the loop's last look
        # Replies the holder holds back until the disk has their commits (see `_work`):
        self._held_replies: list[tuple[Job, dict[str, Any]]] = []
        self._held_debt = DiskDebt()  # what they wait for (under the lock)

    def start(self) -> None:
        for _ in range(self._size):
            self._spawn()

    @property
    def size(self) -> int:
        """The configured number of workers (stand-ins not counted)."""
        return self._size

    @property
    def stand_ins(self) -> int:
        """Threads currently standing in for waiting workers."""
        return self._stand_ins

    def _spawn(self) -> None:
        """Start one more worker thread (the caller holds the lock, or nothing runs yet)."""
        slot: _Slot = queue.SimpleQueue()
        thread = threading.Thread(
            target=self._work, args=(slot,), name=f"batos-worker-{self._spawned}", daemon=True
        )
        self._spawned += 1
        # Stand-ins come and go: forget the threads that have ended.
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    @contextlib.contextmanager
    def stand_in(self) -> Iterator[None]:
        """Around a long wait of a worker that holds no transaction (a method
        waiting for review): another thread serves requests in its place, so
        waiting proposals never starve the daemon. When the wait ends, one
        thread stops at its next idle moment and the pool is back to size."""
        with self._lock:
            if self._stopping:
                standing_in = False
            else:
                standing_in = True
                self._stand_ins += 1
                self._spawn()
        try:
            yield
        finally:
            if standing_in:
                with self._lock:
                    self._stand_ins -= 1
                    idle = self._idle.pop(0) if self._idle else None  # the coldest idle worker
                    if idle is None:
                        self._retiring += 1  # the next worker to become idle stops instead
                if idle is not None:
                    idle.put(None)

    def depth(self) -> int:
        """Jobs waiting plus jobs running."""
        return self._unfinished

    # -- what the daemon calls -----------------------------------------------

    def listen(self, listening: bool) -> None:
        """Start (True) or stop receiving requests through the source (loop thread).
        Stopping wakes the listening worker; the source's own switch
        (`Transport.stop_reading`) makes sure nothing more is received."""
        assert self._source is not None
        with self._lock:
            self._listening = listening
            if listening:
                if self._holder is None:
                    self._pass_role_locked()
                return
            if self._loop_listening:
                self._loop_listening = False
                self._source.loop_listens(False)
            wake = self._holder is not None
        if wake:
            self._source.wake()

    def submit(self, job: Job) -> None:
        """Queue `job` (the loop received it): an idle worker runs it, else the
        role's holder if it is listening, else the first worker to finish."""
        slot: _Slot | None = None
        with self._lock:
            if self._stopping:
                raise RuntimeError("the worker pool is draining")
            self._unfinished += 1
            if self._idle:
                slot = self._idle.pop()
            else:
                self._backlog.append(job)
                wake = self._holder is not None and self._holder_busy_since is None
        if slot is not None:
            slot.put(job)
        elif wake:
            assert self._source is not None
            self._source.wake()

    def rescue(self, older_than: float) -> bool:
        """The loop's look (loop thread): if the role's holder has run one request
        for `older_than` s or more while other requests wait, the role passes on
        (to the most recently idle worker, else to the loop). Returns whether to
        look again: False once no holder runs a request and none began since
        the last look."""
        assert self._source is not None
        pending = self._source.pending()
        held: _HeldReplies | None = None
        with self._lock:
            since = self._holder_busy_since
            busy_long = since is not None and time.monotonic() - since >= older_than
            if busy_long and self._held_replies:
                # The holder held replies back and then met a long request:
                # they leave now, from a thread of their own.
                held = self._take_held_replies_locked()
            if pending and busy_long:
                self._holder = self._holder_busy_since = None
                self._pass_role_locked()
            elif since is None and self._held_jobs == self._held_jobs_seen:
                self._watched = False
                return False
            self._held_jobs_seen = self._held_jobs
        if held is not None:
            threading.Thread(target=held.send, name="batos-held-replies", daemon=True).start()
        return True

    def drain(self, timeout: float | None = None) -> None:
        """Finish every queued job, then stop the threads and close their sessions."""
        with self._lock:
            self._stopping = True
            idle, self._idle = self._idle, []
            threads = list(self._threads)  # no thread is spawned once stopping
            wake = self._holder is not None
        for slot in idle:
            slot.put(None)  # busy workers see `_stopping` once the backlog is empty
        if wake:
            assert self._source is not None
            self._source.wake()
        for thread in threads:
            thread.join(timeout)

    # -- the workers ---------------------------------------------------------

    def _claim(self, slot: _Slot) -> Job | _Idle:
        """A worker is free: the oldest waiting job; else LISTEN when it takes the
        free listener role, WAIT after putting it on the idle stack, or STOP when
        the pool is draining."""
        with self._lock:
            if self._retiring:
                self._retiring -= 1
                return _Idle.STOP
            if self._backlog:
                return self._backlog.popleft()
            if self._stopping:
                return _Idle.STOP
            if self._listening and self._holder is None:
                self._take_role_locked(slot)
                return _Idle.LISTEN
            self._idle.append(slot)
            return _Idle.WAIT

    def _listen(self, slot: _Slot) -> Job | _Idle:
        """As the role's holder: the next job, from the queue or the socket (the
        role stays with this worker while it runs it); CLAIM when the role is
        given up (a stop, a retirement, a rescue) and the pool decides."""
        assert self._source is not None
        while True:
            with self._lock:
                if self._backlog and self._holder is slot:
                    self._begin_held_locked()
                    return self._backlog.popleft()
                gives_up = self._holder is not slot
                if not gives_up and (self._stopping or self._retiring or not self._listening):
                    self._holder = None
                    self._pass_role_locked()
                    gives_up = True
            if gives_up:
                if self._held_replies:  # what it held leaves before it goes idle
                    self._send_held_replies()
                return _Idle.CLAIM
            holding = bool(self._held_replies)  # (only this worker appends to it)
            try:
                job = self._source.take(0.0 if holding else LISTEN_POLL_S)
            except Exception:  # a bug in handling one message must not leave the daemon deaf
                log.exception("failed to take a request")
                job = None
            if job is None:
                if holding:  # nothing more waits: the held replies leave now
                    self._send_held_replies()
                continue
            # With `overlap` (a storage server: a commit waits on its round
            # trips), another request that waits goes to an idle worker at
            # once, to run meanwhile.
            more = self._overlap and self._source.pending()
            with self._lock:
                self._unfinished += 1
                if self._holder is slot:
                    if more and self._idle:
                        self._holder = None
                        self._pass_role_locked()
                    else:
                        self._begin_held_locked()
            return job

    def _after(self, slot: _Slot) -> Job | _Idle:
        """A worker finished a request: LISTEN again if it still holds the role,
        else what `_claim` says."""
        with self._lock:
            if self._holder is slot:
                self._holder_busy_since = None
                return _Idle.LISTEN
        return self._claim(slot)

    def _before_disk_wait(self, slot: _Slot, expected_s: float) -> None:
        """This worker is about to wait `expected_s` for the disk (group_commit): if it
        holds the role, the wait is long and requests wait, an idle worker takes the role."""
        if expected_s < HAND_ON_BEFORE_DISK_WAIT_S or self._source is None:
            return
        with self._lock:
            if self._holder is not slot or not self._idle:
                return
        if not self._source.pending():
            return
        with self._lock:
            if self._holder is slot and self._idle:
                self._holder = self._holder_busy_since = None
                self._pass_role_locked()

    def _work(self, slot: _Slot) -> None:
        session = self._image.session()
        # A transaction's end does not wait for the disk here; the reply does
        # (the transport settles the debt before it sends), or, while others
        # wait, the holder holds it back and runs theirs first.
        debt = DiskDebt()
        defer_durability(debt)
        before_disk_waits(lambda expected_s: self._before_disk_wait(slot, expected_s))
        try:
            next_job = self._claim(slot)
            while next_job is not _Idle.STOP:
                if next_job is _Idle.WAIT:
                    item = slot.get()
                    if item is None:  # `drain` wakes idle workers with None
                        return
                    next_job = item
                if next_job is _Idle.LISTEN:
                    next_job = self._listen(slot)
                if next_job is _Idle.CLAIM:
                    next_job = self._claim(slot)
                if isinstance(next_job, _Idle):
                    continue
                job = next_job
                try:
                    reply: dict[str, Any] | None = self._run(session, job)
                except BaseException:  # the runner maps errors; this is a last resort
                    log.exception("worker crashed on %s", getattr(job.request, "id", "?"))
                    abort_session(session)
                    reply = None
                with self._lock:
                    self._unfinished -= 1
                # Free before answering: the client's next request, which the
                # reply sets off, finds this worker (and its warm cache) ready.
                next_job = self._after(slot)
                if reply is None:
                    continue
                if next_job is _Idle.LISTEN and debt and self._hold(job, reply, debt):
                    continue
                if self._held_replies:
                    self._send_held_replies()
                _send(job, reply)
        finally:
            try:
                if self._held_replies:
                    self._send_held_replies()
            finally:
                defer_durability(None)
                before_disk_waits(None)
                session.close()

    # -- replies held back (the holder, or the loop's rescue) ---------------------

    def _hold(self, job: Job, reply: dict[str, Any], debt: DiskDebt) -> bool:
        """As the role's holder, whose commit is not yet on disk: hold `reply` back if
        other requests wait and there is room. It leaves with their replies, after
        one fsync covers them all (the holder's next `take` does not wait while it
        holds replies: see `_listen`)."""
        if len(self._held_replies) >= HOLD_REPLIES_MAX or self._source is None:
            return False
        try:
            if not self._source.pending():
                return False
        except Exception:  # the reply must still leave, and the worker live on
            log.exception("could not tell whether requests wait")
            return False
        with self._lock:
            self._held_replies.append((job, reply))
            for storage in debt.take():
                self._held_debt.owe(storage)
        return True

    def _take_held_replies_locked(self) -> _HeldReplies:
        held = _HeldReplies(self._held_replies, self._held_debt.take())
        self._held_replies = []
        return held

    def _send_held_replies(self) -> None:
        with self._lock:
            held = self._take_held_replies_locked()
        held.send()

    # -- the listener role (the pool's lock held) ---------------------------------

    def _take_role_locked(self, slot: _Slot) -> None:
        """`slot`'s worker holds the role now; the loop, if it listened, stops."""
        assert self._source is not None
        self._holder, self._holder_busy_since = slot, None
        if self._loop_listening:
            self._loop_listening = False
            self._source.loop_listens(False)

    def _pass_role_locked(self) -> None:
        """The role is free: the most recently idle worker takes it, else the loop
        listens until a worker is free (nothing, when not listening or stopping)."""
        assert self._source is not None and self._holder is None
        if not self._listening or self._stopping:
            return
        if self._idle:
            slot = self._idle.pop()
            self._take_role_locked(slot)
            slot.put(_Idle.LISTEN)
        elif not self._loop_listening:
            self._loop_listening = True
            self._source.loop_listens(True)

    def _begin_held_locked(self) -> None:
        """The holder begins a request: the loop looks after it from now on."""
        assert self._source is not None
        self._holder_busy_since = time.monotonic()
        self._held_jobs += 1
        if not self._watched:
            self._watched = True
            self._source.watch()
