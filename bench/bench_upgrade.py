"""Ship-of-Theseus benchmark: the client-visible pause of `batos upgrade` under load.

A real daemon serves 4 clients that send committing requests (``increment``)
in a loop. The daemon is upgraded N times (default 10) in the same
environment (``upgrade_request`` with no new interpreter: environment build
time is excluded by construction; starting the successor in standby is not a
pause, the old daemon serves meanwhile). For each upgrade the pause is the
longest gap between two acknowledgements, any client, from the request to
10 s after it [targets: median < 1 s, none > 3 s]. The raw baseline, measured
in the same run, is the longest gap in an equally long window without an
upgrade. At the end every acknowledged increment must be in the counter
exactly once.

Run: ``.venv/bin/python bench/bench_upgrade.py [--upgrades N]``. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batos_core.protocol.builders import send_request, shutdown_request, status_request, upgrade_request
from batos_core.protocol.client import Client
from tests.integration.conftest import make_dirs, start_daemon
from tests.integration.upgrade.conftest import Load

WINDOW_S = 4.0  # after each upgrade reply: the load must have resumed well within it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrades", type=int, default=10)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.upgrades} upgrades, 4 clients")
    with tempfile.TemporaryDirectory(prefix="batos-bench-upgrade-") as tmp:
        dirs = make_dirs(Path(tmp))
        os.environ.update(dirs.env())
        daemon = start_daemon(dirs)
        daemon.install_counter()
        load = Load(daemon.info, clients=4)
        load.start()
        time.sleep(1.0)
        baselines, pauses, handovers, totals = [], [], [], []
        control = Client.from_connection_info(daemon.info, timeout=240.0, retries=1)
        for _ in range(args.upgrades):
            quiet = time.time()
            time.sleep(WINDOW_S)
            baselines.append(load.longest_gap(quiet, time.time()))
            began = time.time()
            reply = control.request(upgrade_request())
            assert reply.get("outcome") == "upgraded", reply
            handovers.append(reply["handover_s"])
            totals.append(time.time() - began)
            time.sleep(WINDOW_S)
            pauses.append(load.longest_gap(began, time.time()))
        acknowledged = load.stop()
        counter = control.request(send_request("genesis", "counter"))["result"]
        status = control.request(status_request())
        control.request(shutdown_request())
        control.close()
    base = statistics.median(baselines)
    median = statistics.median(pauses)
    verdict = "exactly once" if counter == acknowledged else "MISMATCH"
    print(f"acknowledged {acknowledged}, counter {counter}: {verdict}")
    print(f"incarnation now {status['incarnation']} (pid {status['pid']}); errors: {len(load.errors)}")
    print(
        f"baseline longest ack gap, no upgrade   median {base * 1000:8.1f} ms  "
        f"max {max(baselines) * 1000:8.1f} ms"
    )
    print(
        f"client-visible pause per upgrade       median {median * 1000:8.1f} ms  "
        f"max {max(pauses) * 1000:8.1f} ms  [median < 1000, max < 3000]  ratio {median / base:.1f}x"
    )
    print(f"old stops reading -> new has the image median {statistics.median(handovers) * 1000:8.1f} ms")
    print(f"whole upgrade request (incl. standby)  median {statistics.median(totals):8.2f} s")
    print("pauses (ms): " + " ".join(f"{p * 1000:.0f}" for p in pauses))


if __name__ == "__main__":
    main()
