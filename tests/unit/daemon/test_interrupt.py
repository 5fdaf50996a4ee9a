"""A client's cancel stops a request's running code (RequestInterrupted), on a real image."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

from batos_core.daemon import dispatch
from batos_core.daemon.context import Cancellation, DaemonInfo, HandlerContext
from batos_core.daemon.interrupt import interruptible
from batos_core.daemon_config import DaemonConfig
from batos_core.image import Image
from batos_core.objects import Method, set_slot, slot_names
from batos_core.protocol.builders import send_request
from batos_core.protocol.codes import ErrorCode
from batos_core.protocol.messages.unions import parse_request

# Writes, then spins; a method's own `except Exception` must not swallow the interrupt.
SPIN = (
    "def spin(self):\n"
    "    self.touched = 1\n"
    "    while True:\n"
    "        try:\n"
    "            pass\n"
    "        except Exception:\n"
    "            pass\n"
)
COUNT = "def count(self, n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"


class Worker:
    """A thread with its own session running requests one after another, like a daemon worker."""

    def __init__(self, image: Image) -> None:
        self.image = image
        self.jobs: queue.Queue[tuple[Mapping[str, Any], Cancellation] | None] = queue.Queue()
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with self.image.session() as session:
            while (job := self.jobs.get()) is not None:
                message, cancel = job
                ctx = HandlerContext(
                    session=session,
                    config=DaemonConfig(image="unused"),
                    info=DaemonInfo(pid=0, image="", started=0.0),
                    emit=lambda kind, data: None,
                    cancel=cancel,
                )
                self.replies.put(dispatch.execute(ctx, parse_request(dict(message))))

    def run(self, message: Mapping[str, Any], cancel: Cancellation | None = None) -> Cancellation:
        cancel = cancel or Cancellation()
        self.jobs.put((message, cancel))
        return cancel

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join(10)


def install(image: Image, name: str, source: str) -> None:
    with image.session() as session:
        with session.transaction_manager:
            set_slot(session.genesis, name, Method(name, source))


def test_a_withdrawn_request_stops_its_looping_method_and_changes_nothing(image: Image) -> None:
    install(image, "spin", SPIN)
    install(image, "count", COUNT)
    worker = Worker(image)
    try:
        cancel = worker.run(send_request("genesis", "spin"))
        time.sleep(0.3)  # well inside the loop
        started = time.monotonic()
        cancel.pull(ErrorCode.CANCELLED, "cancelled by a client", withdrawn=True)
        reply = worker.replies.get(timeout=10)
        assert time.monotonic() - started < 2
        assert reply["type"] == "error_reply" and reply["code"] == "cancelled"
        assert reply["message"] == "cancelled by a client"
        # The worker goes on: its next request runs, and no interrupt is left over.
        worker.run(send_request("genesis", "count", [300_000]))
        assert worker.replies.get(timeout=30)["result"] == sum(range(300_000))
    finally:
        worker.stop()
    with image.session() as session:
        assert "touched" not in slot_names(session.genesis)  # the write was aborted


def test_a_daemon_stopping_lets_running_code_finish(image: Image) -> None:
    install(image, "count", COUNT)
    worker = Worker(image)
    try:
        n = 3_000_000
        cancel = worker.run(send_request("genesis", "count", [n]))
        time.sleep(0.05)
        cancel.pull(ErrorCode.SHUTTING_DOWN, "the daemon is stopping")  # not withdrawn
        assert worker.replies.get(timeout=60)["result"] == sum(range(n))
    finally:
        worker.stop()


def test_a_cancel_after_the_region_raises_nothing() -> None:
    cancel = Cancellation()
    with interruptible(cancel):
        pass
    cancel.pull(ErrorCode.CANCELLED, "late", withdrawn=True)
    total = 0
    for i in range(200_000):  # bytecodes enough for a stray exception to land
        total += i
    assert total == sum(range(200_000))


def test_a_request_withdrawn_before_it_starts_is_stopped_at_once(image: Image) -> None:
    install(image, "spin", SPIN)
    cancel = Cancellation()
    cancel.pull(ErrorCode.CANCELLED, "cancelled by a client", withdrawn=True)
    worker = Worker(image)
    try:
        worker.run(send_request("genesis", "spin"), cancel)
        assert worker.replies.get(timeout=10)["code"] == "cancelled"
    finally:
        worker.stop()


def test_a_cancellation_wakes_waiters_and_keeps_its_first_reason() -> None:
    # Its Event condition is made on first use: waiters on several threads,
    # which race to make it, are all woken by one pull.
    cancel = Cancellation()
    assert not cancel.is_set() and not cancel.wait(0)
    woken: list[bool] = []
    waiters = [threading.Thread(target=lambda: woken.append(cancel.wait(10))) for _ in range(4)]
    for waiter in waiters:
        waiter.start()
    cancel.pull(ErrorCode.SHUTTING_DOWN, "the daemon stops")
    cancel.pull(ErrorCode.CANCELLED, "cancelled by a client", withdrawn=True)
    for waiter in waiters:
        waiter.join(10)
    assert woken == [True] * 4
    assert (cancel.code, cancel.reason) == (ErrorCode.SHUTTING_DOWN, "the daemon stops")
    assert cancel.withdrawn
