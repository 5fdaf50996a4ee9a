"""Worker threads: each owns one image Session (Connection + TransactionManager).

Jobs come from a thread-safe queue; each job's reply and events go back to the
event loop through the job's callbacks (the loop thread alone touches the
socket). `drain()` lets queued and in-flight jobs finish, then closes sessions.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batos_core.image import Image, Session

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One validated request and where its outcome goes."""

    request: Any
    reply: Callable[[dict[str, Any]], None]
    event: Callable[[str, dict[str, Any]], None]


Runner = Callable[[Session, Job], dict[str, Any]]


class WorkerPool:
    """N threads, each with its own Session, running jobs in arrival order."""

    def __init__(self, image: Image, size: int, run: Runner) -> None:
        self._image = image
        self._run = run
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"batos-worker-{i}", daemon=True) for i in range(size)
        ]
        self.busy = 0
        self._busy_lock = threading.Lock()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    @property
    def size(self) -> int:
        return len(self._threads)

    def depth(self) -> int:
        """Jobs waiting plus jobs running."""
        return self._queue.qsize() + self.busy

    def submit(self, job: Job) -> None:
        self._queue.put(job)

    def drain(self, timeout: float | None = None) -> None:
        """Finish every queued job, then stop the threads and close their sessions."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)

    def _work(self) -> None:
        session = self._image.session()
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                with self._busy_lock:
                    self.busy += 1
                try:
                    reply = self._run(session, job)
                except BaseException:  # the runner maps errors; this is a last resort
                    log.exception("worker crashed on %s", getattr(job.request, "id", "?"))
                    session.abort()
                    continue
                finally:
                    with self._busy_lock:
                        self.busy -= 1
                job.reply(reply)
        finally:
            session.close()
