"""Answers while a request is stuck: status and a read from another client, while one
client's method runs ``while True: pass``, against the same with nothing running.

With 4 workers another worker (or the loop) must take over listening from the
one that is stuck (the rescue, `daemon.workers`); with 1 worker the loop
listens and answers status. A CPU-bound method holds the GIL, so every thread
that answers waits up to the interpreter's switch interval (5 ms) each time it
needs the GIL: that, more than the rescue's 5-10 ms, sets these figures.

Run: ``.venv/bin/python bench/bench_busy.py`` (about 15 s). Not a test.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_roundtrip import World

from batos_core.protocol.builders import (
    cancel_request,
    create_method_request,
    send_request,
    status_request,
)

STUCK = "def stuck(self):\n    while True:\n        pass\n"
SAMPLES = 20


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def shown(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1e3:.2f} ms, max {max(samples) * 1e3:.2f} ms"


def measure(workers: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="batos-bench-busy-"))
    world = World(root, workers)
    world.start_daemon()
    try:
        with world.client() as client:
            client.request(create_method_request("genesis", "stuck", STUCK))
            client.request(send_request("genesis", "setSlot:value:", ["x", 3]))
            idle = [timed(lambda: client.request(status_request())) for _ in range(SAMPLES)]
            stuck = send_request("genesis", "stuck")
            runner = threading.Thread(target=lambda: world.client().request(stuck))
            runner.start()
            time.sleep(0.3)  # it runs, in its loop
            status, reads = [], []
            for _ in range(SAMPLES):
                status.append(timed(lambda: client.request(status_request())))
                if workers > 1:  # with one worker a send waits in the queue
                    reads.append(timed(lambda: client.request(send_request("genesis", "x"))))
                time.sleep(0.05)
            client.request(cancel_request(stuck["id"]))
            runner.join(10)
        line = f"{workers} worker(s): status idle {shown(idle)}; status while one is stuck {shown(status)}"
        print(line + (f"; a read while one is stuck {shown(reads)}" if reads else ""))
    finally:
        world.stop_daemon()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    for workers in (4, 1):
        measure(workers)


if __name__ == "__main__":
    main()
