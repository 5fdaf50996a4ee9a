"""Three `batos upgrade`s in a row under committing load: nothing lost, nothing run twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from batos_core.protocol.builders import incarnations_request, send_request, status_request

from .conftest import current_info, request, run_batos, stop_and_wait

#: A request lost in a hand-over would wait for the load clients' 20 s timeout.
MAX_PAUSE_S = 10.0


def test_three_upgrades_under_load_lose_nothing(daemon: Any, load_factory: Any) -> None:
    daemon.install_counter()
    first = request(daemon.info, status_request())
    load = load_factory(daemon.info, clients=4)
    pids = [first["pid"]]
    pauses = []
    try:
        while len(load.acks) < 20:  # the load is flowing before the first upgrade
            time.sleep(0.05)
        for _ in range(3):
            began = time.time()
            done = run_batos(daemon.dirs, "upgrade", "--json")
            assert done.returncode == 0, done.stderr
            outcome = json.loads(done.stdout)
            assert outcome["outcome"] == "upgraded"
            assert outcome["old_pid"] == pids[-1]
            pids.append(outcome["new_pid"])
            settle = time.time() + 0.5
            while time.time() < settle:  # acknowledgements resume on the successor
                time.sleep(0.05)
            pauses.append(load.longest_gap(began, time.time()))
        acknowledged = load.stop()
    finally:
        load._stop.set()
    info = current_info(daemon.dirs, daemon)
    counter = request(info, send_request("genesis", "counter"))["result"]
    assert load.errors == []
    assert counter == acknowledged, "every acknowledged increment ran exactly once"
    assert len(set(pids)) == 4, f"a new process each time: {pids}"
    status = request(info, status_request())
    assert status["incarnation"] == first["incarnation"] + 3
    assert status["pid"] == pids[-1]
    history = request(info, incarnations_request(limit=4))["entries"]
    assert [e["outcome"] for e in history] == ["serving", "upgraded", "upgraded", "upgraded"]
    assert [e["via"] for e in history[:3]] == ["upgrade"] * 3
    assert max(pauses) < MAX_PAUSE_S, f"client-visible pauses {pauses}"
    stop_and_wait(info)
    fstest = subprocess.run(
        [sys.executable, "-m", "ZODB.scripts.fstest", str(daemon.image)], capture_output=True, text=True
    )
    assert fstest.returncode == 0, fstest.stdout + fstest.stderr
