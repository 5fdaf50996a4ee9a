"""The worker pool's listener role on a real image, with requests fed by the test.

The source here stands for the daemon's socket (`RequestSource`): the test
puts jobs where the listening worker takes them, and plays the event loop by
calling `rescue` and `submit` itself. The daemon itself, on a real socket, is
tested in tests/integration/daemon/test_daemon_concurrency.py.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from batos_core.daemon import workers
from batos_core.daemon.workers import Job, WorkerPool
from batos_core.image import Image, Session
from batos_core.image.group_commit import GroupCommitFileStorage, about_to_wait_for_disk


class FedSource:
    """A `RequestSource` whose requests the test puts in `incoming` (an exception
    put there is raised by `take`, as a bug handling one message would be)."""

    def __init__(self) -> None:
        self.incoming: queue.Queue[Job | Exception] = queue.Queue()
        self.loop_listening: list[bool] = []  # each call of loop_listens, in order
        self.watched = 0
        self.takers: set[str] = set()  # threads that called take
        self._woken = threading.Event()

    def take(self, timeout: float) -> Job | None:
        self.takers.add(threading.current_thread().name)
        deadline = time.monotonic() + timeout
        while True:
            if self._woken.is_set():
                self._woken.clear()
                return None
            try:
                item = self.incoming.get(timeout=0.005)
            except queue.Empty:
                if time.monotonic() >= deadline:
                    return None
                continue
            if isinstance(item, Exception):
                raise item
            return item

    def wake(self) -> None:
        self._woken.set()

    def loop_listens(self, listening: bool) -> None:
        self.loop_listening.append(listening)

    def watch(self) -> None:
        self.watched += 1

    def pending(self) -> bool:
        return not self.incoming.empty()


class Runner:
    """Runs jobs named by their request; a job may wait on a gate first, and may
    first say it is about to wait that long for the disk (as a commit does)."""

    def __init__(self) -> None:
        self.ran: queue.Queue[tuple[str, str]] = queue.Queue()
        self.started: dict[str, threading.Event] = {}
        self.gates: dict[str, threading.Event] = {}
        self.disk_waits: dict[str, float] = {}
        self.commits: set[str] = set()  # jobs that write to the image first

    def gate(self, name: str) -> threading.Event:
        self.started[name] = threading.Event()
        gate = self.gates[name] = threading.Event()
        return gate

    def __call__(self, session: Session, job: Job) -> dict[str, Any]:
        name = job.request
        if name in self.commits:
            with session.transaction_manager:
                session.root[f"written-by-{name}"] = name
        if name in self.disk_waits:
            about_to_wait_for_disk(self.disk_waits[name])
        if name in self.gates:
            self.started[name].set()
            assert self.gates[name].wait(10)
        self.ran.put((name, threading.current_thread().name))
        return {"id": name}


def _job(name: str, replies: queue.Queue[dict[str, Any]]) -> Job:
    return Job(request=name, reply=replies.put, event=lambda kind, data: None)


@pytest.fixture
def runner() -> Runner:
    return Runner()


@pytest.fixture
def source() -> FedSource:
    return FedSource()


@contextlib.contextmanager
def _running(
    image: Image, runner: Runner, source: FedSource, size: int, *, overlap: bool = False
) -> Iterator[WorkerPool]:
    """A listening pool of `size` workers; afterwards every gate opens and it drains."""
    pool = WorkerPool(image, size, runner, source, overlap=overlap)
    pool.start()
    pool.listen(True)
    try:
        yield pool
    finally:
        for gate in runner.gates.values():
            gate.set()
        pool.listen(False)
        pool.drain(timeout=10)


@pytest.fixture
def pool(image: Image, runner: Runner, source: FedSource) -> Iterator[WorkerPool]:
    with _running(image, runner, source, 3) as pool:
        yield pool


def _no_reply_within(replies: queue.Queue[dict[str, Any]], seconds: float) -> bool:
    try:
        replies.get(timeout=seconds)
    except queue.Empty:
        return True
    return False


def test_one_client_in_turn_is_served_by_one_worker_that_receives_itself(
    pool: WorkerPool, runner: Runner, source: FedSource
) -> None:
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    threads = []
    for n in range(6):
        source.incoming.put(_job(f"j{n}", replies))
        assert replies.get(timeout=10) == {"id": f"j{n}"}
        threads.append(runner.ran.get(timeout=10)[1])
    assert len(set(threads)) == 1  # no hand-over: the worker that received ran it
    assert threads[0] in source.takers
    assert pool.depth() == 0


def test_a_long_request_keeps_the_role_until_others_wait_then_the_loop_rescue_passes_it(
    pool: WorkerPool, runner: Runner, source: FedSource
) -> None:
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    gate = runner.gate("long")
    source.incoming.put(_job("long", replies))
    assert runner.started["long"].wait(10)
    assert source.watched >= 1  # the loop was asked to look after it
    assert pool.rescue(0.0) is True  # nothing waits: the role stays, the loop looks again
    source.incoming.put(_job("short", replies))
    assert _no_reply_within(replies, 0.3)  # nobody listens while the holder runs
    assert pool.rescue(0.0) is True  # a request waits: the role passes to an idle worker
    assert replies.get(timeout=10) == {"id": "short"}
    assert not gate.is_set()  # answered while the long one still runs
    gate.set()
    assert replies.get(timeout=10) == {"id": "long"}
    ran = dict(runner.ran.get(timeout=10) for _ in range(2))
    assert ran["short"] != ran["long"]
    for _ in range(2):  # once nothing runs and nothing began, the loop stops looking
        stop = not pool.rescue(0.0)
    assert stop


def test_with_every_worker_busy_the_loop_listens_and_gives_the_role_back(
    image: Image, runner: Runner, source: FedSource
) -> None:
    with _running(image, runner, source, 1) as pool:
        replies: queue.Queue[dict[str, Any]] = queue.Queue()
        gate = runner.gate("long")
        source.incoming.put(_job("long", replies))
        assert runner.started["long"].wait(10)
        source.incoming.put(_job("status", replies))
        assert pool.rescue(0.0) is True
        assert source.loop_listening == [True]  # no idle worker: the loop receives now
        queued = source.incoming.get_nowait()  # as the loop would: received, queued for a worker
        assert isinstance(queued, Job)
        pool.submit(queued)
        assert pool.depth() == 2
        gate.set()
        assert [replies.get(timeout=10)["id"] for _ in range(2)] == ["long", "status"]
        deadline = time.monotonic() + 10
        while source.loop_listening != [True, False]:  # the worker listens again
            assert time.monotonic() < deadline, source.loop_listening
            time.sleep(0.01)


def test_with_overlap_a_waiting_request_runs_beside_the_one_received(
    image: Image, runner: Runner, source: FedSource
) -> None:
    with _running(image, runner, source, 3, overlap=True):
        replies: queue.Queue[dict[str, Any]] = queue.Queue()
        gate = runner.gate("long")
        source.incoming.put(_job("long", replies))
        source.incoming.put(_job("short", replies))  # waiting when "long" is taken
        assert replies.get(timeout=10) == {"id": "short"}  # no rescue needed
        assert not gate.is_set()
        gate.set()
        assert replies.get(timeout=10) == {"id": "long"}


def test_after_listen_false_nothing_more_is_taken_and_drain_ends(
    image: Image, runner: Runner, source: FedSource
) -> None:
    pool = WorkerPool(image, 2, runner, source)
    pool.start()
    pool.listen(True)
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    source.incoming.put(_job("before", replies))
    assert replies.get(timeout=10) == {"id": "before"}
    pool.listen(False)
    time.sleep(0.05)  # the woken holder gives the role up
    source.incoming.put(_job("after", replies))
    assert _no_reply_within(replies, 0.3)
    started = time.monotonic()
    pool.drain(timeout=10)
    assert time.monotonic() - started < 2  # a listening worker does not hold the drain for its poll
    assert source.incoming.qsize() == 1


def test_a_failure_taking_one_request_does_not_leave_the_pool_deaf(
    pool: WorkerPool, source: FedSource, caplog: pytest.LogCaptureFixture
) -> None:
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    source.incoming.put(RuntimeError("a bug in routing one message"))
    source.incoming.put(_job("next", replies))
    assert replies.get(timeout=10) == {"id": "next"}
    assert "failed to take a request" in caplog.text


@pytest.mark.parametrize("expected_s, hands_on", [(0.01, True), (0.0003, False)])
def test_a_holder_about_to_wait_long_for_the_disk_hands_the_role_on_when_others_wait(
    pool: WorkerPool, runner: Runner, source: FedSource, expected_s: float, hands_on: bool
) -> None:
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    gate = runner.gate("commit")
    runner.disk_waits["commit"] = expected_s
    source.incoming.put(_job("commit", replies))
    source.incoming.put(_job("next", replies))  # waiting when "commit" is about to wait for the disk
    if hands_on:  # a slow disk: another worker runs "next" meanwhile
        assert replies.get(timeout=10) == {"id": "next"}
        assert not gate.is_set()
    else:  # a fast disk: the holder keeps the role ("next" waits for it)
        assert _no_reply_within(replies, 0.3)
    gate.set()
    assert {replies.get(timeout=10)["id"] for _ in range(1 if hands_on else 2)} >= {"commit"}


# -- replies held back until one fsync covers them ---------------------------------


class DurableReplies:
    """Where the tests' replies go: each notes whether the disk had every commit
    finished so far when it arrived (the storage's own count)."""

    def __init__(self, storage: GroupCommitFileStorage) -> None:
        self.storage = storage
        self.arrived: queue.Queue[tuple[str, bool]] = queue.Queue()

    def job(self, name: str) -> Job:
        return Job(
            request=name,
            reply=lambda reply: self.arrived.put((reply["id"], self.storage.all_durable())),
            event=lambda kind, data: None,
        )

    def next(self) -> tuple[str, bool]:
        return self.arrived.get(timeout=10)


def _storage(image: Image) -> GroupCommitFileStorage:
    storage = image.db.storage
    assert isinstance(storage, GroupCommitFileStorage)
    return storage


def test_while_requests_wait_the_holder_holds_replies_and_one_fsync_covers_them_all(
    image: Image, runner: Runner, source: FedSource
) -> None:
    storage = _storage(image)
    out = DurableReplies(storage)
    names = [f"c{n}" for n in range(5)]
    runner.commits.update(names)
    for name in names:  # all waiting before anyone listens
        source.incoming.put(out.job(name))
    fsyncs = storage.fsyncs
    with _running(image, runner, source, 2):
        arrived = [out.next() for _ in names]
    assert [name for name, _ in arrived] == names  # in the order they ran
    assert all(durable for _, durable in arrived)  # none before the disk had it
    assert storage.fsyncs - fsyncs == 1  # five commits, one fsync
    assert len({thread for _, thread in (runner.ran.get(timeout=1) for _ in names)}) == 1


def test_the_holder_holds_no_more_than_its_limit(
    image: Image, runner: Runner, source: FedSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "HOLD_REPLIES_MAX", 2)
    storage = _storage(image)
    out = DurableReplies(storage)
    names = [f"c{n}" for n in range(5)]
    runner.commits.update(names)
    for name in names:
        source.incoming.put(out.job(name))
    fsyncs = storage.fsyncs
    with _running(image, runner, source, 2):
        arrived = [out.next() for _ in names]
    assert [name for name, _ in arrived] == names
    assert all(durable for _, durable in arrived)
    assert storage.fsyncs - fsyncs == 2  # the batch ends when the third is to be held


def test_one_client_in_turn_gets_each_reply_once_its_commit_is_on_disk(
    pool: WorkerPool, image: Image, runner: Runner, source: FedSource
) -> None:
    storage = _storage(image)
    out = DurableReplies(storage)
    for n in range(4):
        name = f"c{n}"
        runner.commits.add(name)
        fsyncs = storage.fsyncs
        source.incoming.put(out.job(name))
        assert out.next() == (name, True)  # nothing else waits: it is not held
        assert storage.fsyncs - fsyncs == 1


def test_held_replies_leave_from_the_loop_rescue_when_the_next_request_runs_long(
    image: Image, runner: Runner, source: FedSource
) -> None:
    storage = _storage(image)
    out = DurableReplies(storage)
    runner.commits.add("commit")
    gate = runner.gate("long")
    source.incoming.put(out.job("commit"))
    source.incoming.put(out.job("long"))  # waiting when "commit" is done: "commit" is held
    with _running(image, runner, source, 2) as pool:
        assert runner.started["long"].wait(10)
        with pytest.raises(queue.Empty):
            out.arrived.get(timeout=0.3)  # held while "long" runs, until the loop looks
        pool.rescue(0.0)  # the loop's look: the holder has run "long" long enough
        assert out.next() == ("commit", True)
        assert not gate.is_set()  # answered while "long" still runs
        gate.set()
        assert out.next() == ("long", True)


def test_a_failure_asking_whether_requests_wait_still_sends_the_reply(
    pool: WorkerPool,
    image: Image,
    runner: Runner,
    source: FedSource,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = DurableReplies(_storage(image))
    runner.commits.update({"c0", "c1"})

    def broken() -> bool:
        raise RuntimeError("the socket went away")

    monkeypatch.setattr(source, "pending", broken)
    source.incoming.put(out.job("c0"))
    assert out.next() == ("c0", True)  # not held, and sent
    source.incoming.put(out.job("c1"))  # the worker lives on
    assert out.next() == ("c1", True)
    assert "could not tell whether requests wait" in caplog.text
