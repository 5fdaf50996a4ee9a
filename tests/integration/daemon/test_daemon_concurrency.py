"""Many clients writing one slot at once: conflicts retry, no increment is lost."""

from __future__ import annotations

import threading
from typing import Any

from batos_core.protocol.builders import send_request

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
