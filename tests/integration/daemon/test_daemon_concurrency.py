"""Many clients at once: conflicts retry, no increment is lost; a request that
runs long holds up no other client's (the worker that received it loses the
listener role to another, see daemon.workers)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from batos_core.protocol.builders import cancel_request, create_method_request, send_request

THREADS = 8
PER_THREAD = 500


def test_eight_clients_incrementing_one_slot_lose_nothing(daemon: Any) -> None:
    daemon.install_counter()
    replies: list[list[dict[str, Any]]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def hammer(index: int) -> None:
        try:
            client = daemon.client(timeout=60.0)
            start.wait()
            for _ in range(PER_THREAD):
                replies[index].append(client.request(send_request("genesis", "increment")))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    flat = [reply for per_thread in replies for reply in per_thread]
    assert len(flat) == THREADS * PER_THREAD
    not_sent = [reply for reply in flat if reply["type"] != "send_reply"]
    assert not_sent == []
    # Each increment returned the value it wrote: all distinct, exactly 1..N.
    assert sorted(reply["result"] for reply in flat) == list(range(1, THREADS * PER_THREAD + 1))
    assert daemon.send("genesis", "counter")["result"] == THREADS * PER_THREAD


STUCK = "def stuck(self):\n    while True:\n        pass\n"


@pytest.mark.parametrize("workers", [1, 4])
def test_a_request_stuck_in_a_loop_holds_up_no_other_client(daemon_factory: Any, workers: int) -> None:
    daemon = daemon_factory(extra_args=["--workers", str(workers)])
    client = daemon.client()
    assert client.request(create_method_request("genesis", "stuck", STUCK))["type"] == "create_method_reply"
    assert client.request(send_request("genesis", "setSlot:value:", ["x", 3]))["type"] == "send_reply"
    stuck = send_request("genesis", "stuck")
    replies: list[dict[str, Any]] = []
    sender = threading.Thread(target=lambda: replies.append(daemon.client().request(stuck)))
    sender.start()
    deadline = time.monotonic() + 10
    while daemon.status()["queue_depth"] < 1:  # status is answered while it runs
        assert time.monotonic() < deadline
        time.sleep(0.01)
    quick: list[dict[str, Any]] = []
    asker = threading.Thread(
        target=lambda: quick.append(daemon.client(timeout=20.0).request(send_request("genesis", "x")))
    )
    asker.start()
    if workers > 1:
        asker.join(5)  # another worker answers it while the first runs on
        assert quick and quick[0]["result"] == 3
        assert replies == []
    else:
        asker.join(1)  # the only worker is busy: it waits in the queue
        assert quick == []
    assert client.request(cancel_request(stuck["id"]))["cancelled"] is True
    sender.join(10)
    assert replies and replies[0]["code"] == "cancelled"
    asker.join(10)
    assert quick and quick[0]["result"] == 3
