"""WorkerPool on a real image: LIFO dispatch, a failing reply callback, stand-ins, draining."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from batos_core.daemon.workers import Job, WorkerPool
from batos_core.image import Image, Session


class Recorder:
    """A runner that records which thread ran each job; a job may block on an event."""

    def __init__(self) -> None:
        self.ran: queue.Queue[tuple[str, str]] = queue.Queue()
        self.gates: dict[str, threading.Event] = {}
        self.pool: WorkerPool | None = None

    def __call__(self, session: Session, job: Job) -> dict[str, Any]:
        name = job.request
        gate = self.gates.get(name)
        if gate is not None:
            if name.startswith("wait"):  # like a worker waiting for a review decision
                assert self.pool is not None
                with self.pool.stand_in():
                    assert gate.wait(10)
            else:
                assert gate.wait(10)
        self.ran.put((name, threading.current_thread().name))
        return {"id": name}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def pool(image: Image, recorder: Recorder) -> Iterator[WorkerPool]:
    pool = WorkerPool(image, 2, recorder)
    recorder.pool = pool
    pool.start()
    yield pool
    pool.drain(timeout=10)


def _job(name: str, replies: queue.Queue[dict[str, Any]], *, reply: Any = None) -> Job:
    return Job(request=name, reply=reply or replies.put, event=lambda kind, data: None)


def _live_workers() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("batos-worker-") and t.is_alive())


def test_the_worker_that_answered_last_takes_the_next_job(pool: WorkerPool, recorder: Recorder) -> None:
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    threads = []
    for n in range(5):
        pool.submit(_job(f"j{n}", replies))
        assert replies.get(timeout=10) == {"id": f"j{n}"}
        threads.append(recorder.ran.get(timeout=10)[1])
    assert len(set(threads)) == 1  # one client in turn: always the warm worker


def test_a_reply_callback_that_raises_does_not_kill_the_worker(pool: WorkerPool) -> None:
    def broken(_: dict[str, Any]) -> None:
        raise RuntimeError("the socket went away")

    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    for n in range(4):  # more than the pool's two workers
        pool.submit(_job(f"bad{n}", replies, reply=broken))
        pool.submit(_job(f"ok{n}", replies))
        assert replies.get(timeout=10) == {"id": f"ok{n}"}
    for _ in range(200):  # the last bad job may still be finishing beside ok3
        if pool.depth() == 0:
            break
        threading.Event().wait(0.01)
    assert pool.depth() == 0


def test_a_waiting_worker_is_stood_in_for_and_the_pool_shrinks_back(
    pool: WorkerPool, recorder: Recorder
) -> None:
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    before = _live_workers()
    gates = {name: threading.Event() for name in ("wait1", "wait2")}
    recorder.gates.update(gates)
    pool.submit(_job("wait1", replies))
    pool.submit(_job("wait2", replies))  # both workers now wait
    pool.submit(_job("plain", replies))
    assert replies.get(timeout=10) == {"id": "plain"}  # served by a stand-in
    for _ in range(200):  # the second waiting job may still be starting its wait
        if pool.stand_ins == 2:
            break
        threading.Event().wait(0.01)
    assert pool.stand_ins == 2
    for gate in gates.values():
        gate.set()
    assert {replies.get(timeout=10)["id"] for _ in range(2)} == {"wait1", "wait2"}
    assert pool.stand_ins == 0
    for n in range(3):  # a round of work lets the surplus threads stop
        pool.submit(_job(f"after{n}", replies))
        replies.get(timeout=10)
    deadline = threading.Event()
    for _ in range(100):
        if _live_workers() == before:
            break
        deadline.wait(0.05)
    assert _live_workers() == before


def test_drain_finishes_what_was_queued(image: Image, recorder: Recorder) -> None:
    pool = WorkerPool(image, 1, recorder)
    pool.start()
    gate = recorder.gates["first"] = threading.Event()
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    for name in ("first", "second", "third"):
        pool.submit(_job(name, replies))
    gate.set()
    pool.drain(timeout=10)
    assert [replies.get_nowait()["id"] for _ in range(3)] == ["first", "second", "third"]
    with pytest.raises(RuntimeError, match="draining"):
        pool.submit(_job("late", replies))
