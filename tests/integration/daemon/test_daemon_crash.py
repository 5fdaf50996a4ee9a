"""kill -9 during a write load: every acknowledged write survives and the image checks clean."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

from batos_core.protocol.builders import send_request
from batos_core.protocol.errors import DaemonUnavailable

ACKS_BEFORE_KILL = 40


def test_kill_9_under_write_load_keeps_every_acknowledged_write(daemon_factory: Any) -> None:
    first = daemon_factory()
    first.install_counter()
    acknowledged: list[int] = []
    enough = threading.Event()
    failure: list[BaseException] = []

    def load() -> None:
        # Short timeout and no retries: once the daemon is dead, the next request fails fast.
        client = first.client(timeout=3.0, retries=0)
        try:
            while True:
                reply = client.request(send_request("genesis", "increment"))
                assert reply["type"] == "send_reply", reply
                acknowledged.append(reply["result"])
                if len(acknowledged) >= ACKS_BEFORE_KILL:
                    enough.set()
        except DaemonUnavailable:
            return
        except BaseException as exc:
            failure.append(exc)
            enough.set()

    writer = threading.Thread(target=load)
    writer.start()
    assert enough.wait(60.0)
    first.kill()
    writer.join(30.0)
    assert not writer.is_alive()
    assert not failure
    assert first.proc.returncode == -9
    # Replies came back in order from one client: the last one is the count it saw.
    assert acknowledged == list(range(1, len(acknowledged) + 1))

    second = daemon_factory()
    counter = second.send("genesis", "counter")["result"]
    # At most one request was committed whose reply the kill swallowed.
    assert counter in (len(acknowledged), len(acknowledged) + 1)
    assert second.stop() == 0

    check = subprocess.run(
        [sys.executable, "-m", "ZODB.scripts.fstest", str(second.image)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
