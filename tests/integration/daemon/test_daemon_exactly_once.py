"""Exactly-once: a request id sent twice runs once, whether the retry comes after or during it."""

from __future__ import annotations

import threading
import time
from typing import Any

from batos_core.protocol.builders import create_method_request, send_request, status_request

# About a second of CPU on this machine class: long enough for a retry to arrive mid-run.
SLOW_SOURCE = (
    "def slow(self):\n"
    "    total = 0\n"
    "    for i in range(8000000):\n"
    "        total = total + i\n"
    "    self.runs = self.runs + 1\n"
    "    return self.runs\n"
)


def test_same_request_id_twice_runs_once_and_answers_the_same(daemon: Any) -> None:
    daemon.install_counter()
    request = send_request("genesis", "increment")
    first = daemon.client().request(request)
    second = daemon.client().request(request)
    assert first["type"] == "send_reply"
    assert first["result"] == 1
    assert second == first
    assert daemon.send("genesis", "counter")["result"] == 1
    assert "answering the stored reply" in daemon.log_text()


def test_a_fresh_id_runs_again(daemon: Any) -> None:
    daemon.install_counter()
    client = daemon.client()
    assert client.request(send_request("genesis", "increment"))["result"] == 1
    assert client.request(send_request("genesis", "increment"))["result"] == 2


def test_retry_while_running_attaches_to_the_running_request(daemon: Any) -> None:
    control = daemon.client()
    assert control.request(send_request("genesis", "setSlot:value:", ["runs", 0]))["type"] == "send_reply"
    assert control.request(create_method_request("genesis", "slow", SLOW_SOURCE))["type"] == (
        "create_method_reply"
    )
    request = send_request("genesis", "slow")
    replies: list[dict[str, Any]] = []
    first_client = daemon.client()
    first = threading.Thread(target=lambda: replies.append(first_client.request(request)))
    first.start()
    # Wait (on the daemon's own report, not a sleep) until a worker is running it.
    deadline = time.monotonic() + 30.0
    while control.request(status_request())["queue_depth"] == 0:
        assert first.is_alive() and time.monotonic() < deadline
    second_reply = daemon.client().request(request)
    first.join(30.0)
    assert replies == [second_reply]
    assert second_reply["type"] == "send_reply"
    assert second_reply["result"] == 1
    assert daemon.send("genesis", "runs")["result"] == 1
    # It attached to the running request: no second execution and no stored-reply lookup.
    assert "answering the stored reply" not in daemon.log_text()
