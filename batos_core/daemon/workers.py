"""Worker threads: each owns one image Session (Connection + TransactionManager).

Jobs reach the workers through the pool's queue; each job's reply and events go
out through the job's callbacks, on the worker's thread. `drain()` lets queued
and in-flight jobs finish, then closes sessions.

Dispatch is last-in, first-out over idle workers: a job goes to the worker that
became idle most recently (a worker counts as idle from the moment its
transaction is over, before it sends the reply). A Connection's object cache
holds what its last transactions touched, and a commit by one worker
invalidates those objects in every other worker's cache, so sending a client's
next request to the worker that ran its previous one avoids reloading
(unpickling) the receiver and the reply table's bucket on every request. Jobs
that arrive while every worker is busy wait in a FIFO backlog and keep their
arrival order. A worker that waits for a review decision is stood in for
(`WorkerPool.stand_in`).
"""

from __future__ import annotations

import collections
import contextlib
import enum
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from batos_core.daemon.context import Cancellation
from batos_core.daemon.dispatch import abort_session
from batos_core.image import Image, Session

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One validated request and where its outcome goes."""

    request: Any
    reply: Callable[[dict[str, Any]], None]
    event: Callable[[str, dict[str, Any]], None]
    cancel: Cancellation = field(default_factory=Cancellation)


Runner = Callable[[Session, Job], dict[str, Any]]

#: What a worker's own queue carries: a job, or None to stop.
_Slot = queue.SimpleQueue[Job | None]


class _Idle(enum.Enum):
    """What a worker with no job in hand does next."""

    WAIT = "wait"  # on the idle stack: block on its slot
    STOP = "stop"  # the pool is draining and nothing is left


class WorkerPool:
    """N threads, each with its own Session; jobs start in arrival order."""

    def __init__(self, image: Image, size: int, run: Runner) -> None:
        self._image = image
        self._run = run
        self._lock = threading.Lock()
        self._backlog: collections.deque[Job] = collections.deque()
        self._idle: list[_Slot] = []  # a stack: the most recently idle worker last
        self._stopping = False
        self._size = size
        self._threads: list[threading.Thread] = []
        self._unfinished = 0  # submitted and not yet run to the end
        self._stand_ins = 0  # threads running in place of workers that wait (see stand_in)
        self._retiring = 0  # threads to stop at their next idle moment
        self._spawned = 0  # threads started so far (names them)

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

    def submit(self, job: Job) -> None:
        with self._lock:
            if self._stopping:
                raise RuntimeError("the worker pool is draining")
            self._unfinished += 1
            if not self._idle:
                self._backlog.append(job)
                return
            slot = self._idle.pop()
        slot.put(job)

    def drain(self, timeout: float | None = None) -> None:
        """Finish every queued job, then stop the threads and close their sessions."""
        with self._lock:
            self._stopping = True
            idle, self._idle = self._idle, []
            threads = list(self._threads)  # no thread is spawned once stopping
        for slot in idle:
            slot.put(None)  # busy workers see `_stopping` once the backlog is empty
        for thread in threads:
            thread.join(timeout)

    def _claim(self, slot: _Slot) -> Job | _Idle:
        """A worker is free: the oldest waiting job; else WAIT after putting the
        worker on the idle stack, or STOP when the pool is draining."""
        with self._lock:
            if self._retiring:
                self._retiring -= 1
                return _Idle.STOP
            if self._backlog:
                return self._backlog.popleft()
            if self._stopping:
                return _Idle.STOP
            self._idle.append(slot)
            return _Idle.WAIT

    def _work(self, slot: _Slot) -> None:
        session = self._image.session()
        try:
            next_job = self._claim(slot)
            while next_job is not _Idle.STOP:
                job = slot.get() if next_job is _Idle.WAIT else next_job
                if job is None:  # `drain` wakes idle workers with None
                    return
                try:
                    reply: dict[str, Any] | None = self._run(session, job)
                except BaseException:  # the runner maps errors; this is a last resort
                    log.exception("worker crashed on %s", getattr(job.request, "id", "?"))
                    abort_session(session)
                    reply = None
                with self._lock:
                    self._unfinished -= 1
                # Free before answering: the client's next request, which the
                # reply sets off, finds this worker (and its warm cache) idle.
                next_job = self._claim(slot)
                if reply is not None:
                    try:
                        job.reply(reply)
                    except Exception:  # this worker is on the idle stack: it must live on
                        log.exception("could not send the reply to %s", getattr(job.request, "id", "?"))
        finally:
            session.close()
