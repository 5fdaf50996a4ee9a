"""Cancelling a request: a cancel_request, a client's Ctrl-C, and a daemon told to stop.

The scripted model here takes its time (``seconds_per_piece``), so a
generation is still running when the cancel arrives; each test checks that it
stopped early and that nothing was installed.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import pytest
from jit_helpers import GREET, ScriptedDaemons, call, fenced, history, slot_names

from batos_core.protocol.builders import cancel_request, send_request, status_request
from batos_core.protocol.client import Client

#: 0.05 s a word: the reply below takes about 3 s to "generate".
PACE = 0.05
SLOW_REPLY = fenced(GREET) + " and some more words" * 10


class Pending:
    """A send on its own client in a thread; its first token and its reply."""

    def __init__(self, daemon: Any, message: dict[str, Any]) -> None:
        self.message = message
        self.tokens: queue.Queue[str] = queue.Queue()
        self.reply: dict[str, Any] = {}
        self.finished_at = 0.0

        def run() -> None:
            with Client.from_connection_info(daemon.info, timeout=30.0, retries=0) as client:
                self.reply = client.request(message, on_event=self._on_event)
            self.finished_at = time.monotonic()

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def _on_event(self, message: dict[str, Any]) -> None:
        if message["kind"] == "token":
            self.tokens.put(message["data"]["text"])

    def first_token(self) -> None:
        self.tokens.get(timeout=30)

    def result(self) -> dict[str, Any]:
        self.thread.join(30)
        assert not self.thread.is_alive(), "the request never finished"
        return self.reply


def test_a_cancel_request_stops_a_generation_and_installs_nothing(scripted: ScriptedDaemons) -> None:
    daemon = scripted([SLOW_REPLY], seconds_per_piece=PACE)
    pending = Pending(daemon, send_request("genesis", "greet:", ["Ada"]))
    pending.first_token()
    cancelled_at = time.monotonic()
    answer = call(daemon, cancel_request(pending.message["id"]))
    assert answer == {**answer, "type": "cancel_reply", "cancelled": True}
    reply = pending.result()
    assert reply["type"] == "error_reply" and reply["code"] == "cancelled", reply
    assert pending.finished_at - cancelled_at < 1.5  # not the ~3 s the whole reply takes
    assert "greet_" not in slot_names(daemon, "genesis")
    assert history(daemon) == []  # a cancel is not a rejection of the model's work
    assert call(daemon, status_request())["type"] == "status_reply"


def test_cancelling_what_is_not_in_flight_says_so(scripted: ScriptedDaemons) -> None:
    daemon = scripted([])
    done = send_request("genesis", "printString")
    assert call(daemon, done)["type"] == "send_reply"
    for target in (done["id"], "f" * 32):
        answer = call(daemon, cancel_request(target))
        assert answer["type"] == "cancel_reply" and answer["cancelled"] is False


def test_a_queued_request_that_is_cancelled_never_runs(scripted: ScriptedDaemons) -> None:
    daemon = scripted([SLOW_REPLY], seconds_per_piece=PACE, extra_args=["--workers", "1"])
    busy = Pending(daemon, send_request("genesis", "greet:", ["Ada"]))
    busy.first_token()  # the only worker is generating
    queued = Pending(daemon, send_request("genesis", "setSlot:value:", ["flag", 1]))
    deadline = time.monotonic() + 10
    while call(daemon, status_request())["queue_depth"] < 2:  # it waits behind the generation
        assert time.monotonic() < deadline, "the second request never reached the daemon"
        time.sleep(0.01)
    assert call(daemon, cancel_request(queued.message["id"]))["cancelled"] is True
    assert call(daemon, cancel_request(busy.message["id"]))["cancelled"] is True
    assert queued.result()["code"] == "cancelled"
    assert busy.result()["code"] == "cancelled"
    assert "flag" not in slot_names(daemon, "genesis")


def test_ctrl_c_in_a_client_cancels_its_request(scripted: ScriptedDaemons) -> None:
    daemon = scripted([SLOW_REPLY], seconds_per_piece=PACE)
    message = send_request("genesis", "greet:", ["Ada"])

    def interrupt(event: dict[str, Any]) -> None:
        if event["kind"] == "token":
            raise KeyboardInterrupt  # what Ctrl-C does in the waiting client

    with Client.from_connection_info(daemon.info, timeout=30.0, retries=0) as client:
        with pytest.raises(KeyboardInterrupt):
            client.request(message, on_event=interrupt)
        assert client.last_cancel is True
    # The generation stopped: the slot never appears, the daemon serves on.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and call(daemon, cancel_request(message["id"]))["cancelled"]:
        time.sleep(0.05)
    assert call(daemon, cancel_request(message["id"]))["cancelled"] is False
    assert "greet_" not in slot_names(daemon, "genesis")


def test_stopping_the_daemon_stops_a_generation_instead_of_waiting_for_it(
    scripted: ScriptedDaemons,
) -> None:
    daemon = scripted([SLOW_REPLY * 5], seconds_per_piece=PACE)  # ~15 s if left alone
    pending = Pending(daemon, send_request("genesis", "greet:", ["Ada"]))
    pending.first_token()
    stopped_at = time.monotonic()
    daemon.proc.terminate()  # SIGTERM: drain and exit
    assert daemon.proc.wait(10) == 0
    assert time.monotonic() - stopped_at < 5
    reply = pending.result()
    assert reply["type"] == "error_reply" and reply["code"] == "shutting_down", reply
