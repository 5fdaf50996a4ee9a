"""The Synaptic Bridge against a real daemon, without Kivy.

The bridge hands every callback to ``dispatch``; here dispatch queues the job
and the test thread runs it, standing in for Kivy's main thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from batos_core.gui.bridge import SynapticBridge
from batos_core.protocol.connection import read_connection_file

from .conftest import RunningDaemon

Job = Callable[[], None]


class MainThread:
    """Runs dispatched jobs on the test's thread, like Kivy's Clock would."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[Job] = queue.Queue()

    def dispatch(self, job: Job) -> None:
        self.jobs.put(job)

    def run_until(self, done: Callable[[], bool], timeout: float = 15.0) -> None:
        while not done():
            self.jobs.get(timeout=timeout)()


@pytest.fixture
def main_thread() -> MainThread:
    return MainThread()


@pytest.fixture
def bridge(daemon: RunningDaemon, main_thread: MainThread) -> Iterator[SynapticBridge]:
    info = read_connection_file(daemon.connection_file)
    b = SynapticBridge.from_connection_info(info, dispatch=main_thread.dispatch, timeout=10)
    b.start()
    yield b
    b.close()


def test_get_full_state_gives_plain_values_on_the_main_thread(
    daemon: RunningDaemon, bridge: SynapticBridge, main_thread: MainThread
) -> None:
    daemon.request(
        {
            "type": "send_request",
            "id": "b-1",
            "receiver": "genesis",
            "selector": "setSlot:value:",
            "args": ["colour", "teal"],
            "review": False,
        }
    )
    got: list[tuple[dict[str, Any], int]] = []
    bridge.get_full_state("genesis", lambda state: got.append((state, threading.get_ident())))
    main_thread.run_until(lambda: bool(got))
    [(state, thread)] = got
    assert thread == threading.get_ident()
    assert state["colour"] == "teal"
    # A parent slot is an object: the UI gets its printString, not a wire marker.
    assert isinstance(state["parent*"], str) and "UvmObject" in state["parent*"]
    assert bridge.states_delivered == 1 and bridge.last_state == state


def test_send_runs_the_typed_message_and_answers_its_text(
    daemon: RunningDaemon, bridge: SynapticBridge, main_thread: MainThread
) -> None:
    replies: list[str] = []
    bridge.send("genesis setSlot: 'answer' value: 42", replies.append)
    main_thread.run_until(lambda: bool(replies))
    assert "answer: 42" in replies[0]
    assert daemon.state()["answer"] == 42
    bridge.send("genesis noSuchMessage", replies.append)
    main_thread.run_until(lambda: len(replies) == 2)
    assert replies[1].startswith("error: SlotNotFound")


def test_failures_reach_on_error_or_the_event_listeners(
    bridge: SynapticBridge, main_thread: MainThread
) -> None:
    errors: list[str] = []
    events: list[dict[str, Any]] = []
    bridge.on_event(events.append)
    bridge.get_full_state("noSuchObject", lambda state: None, errors.append)
    bridge.get_full_state("noSuchObject", lambda state: None)
    main_thread.run_until(lambda: bool(errors) and bool(events))
    assert errors[0].startswith("error: ")
    assert "noSuchObject" in errors[0]
    assert events[0]["kind"] == "error" and events[0]["data"]["message"] == errors[0]


def test_a_daemon_that_never_answers_gives_an_error_after_the_retries(
    tmp_path: Path, main_thread: MainThread
) -> None:
    endpoint = f"ipc://{tmp_path}/nobody.sock"
    bridge = SynapticBridge(endpoint, b"k" * 32, dispatch=main_thread.dispatch, timeout=0.2, retries=1)
    bridge.start()
    try:
        replies: list[str] = []
        bridge.send("genesis printString", replies.append)
        main_thread.run_until(lambda: bool(replies), timeout=10)
    finally:
        bridge.close()
    assert replies == [f"error: DaemonUnavailable: no reply from {endpoint} after 2 attempts of 0.2 s"]



def test_a_request_that_cannot_be_sent_is_a_bad_request_reply(
    tmp_path: Path, main_thread: MainThread
) -> None:
    bridge = SynapticBridge(f"ipc://{tmp_path}/nobody.sock", b"k" * 32, dispatch=main_thread.dispatch)
    bridge.start()
    try:
        replies: list[dict[str, Any]] = []
        bridge.request({"type": "eval_request", "id": "x" * 32, "source": object()}, replies.append)
        main_thread.run_until(lambda: bool(replies), timeout=10)
    finally:
        bridge.close()
    assert replies[0]["type"] == "error_reply" and replies[0]["code"] == "bad_request"


def test_close_drops_a_pending_request(tmp_path: Path, main_thread: MainThread) -> None:
    endpoint = f"ipc://{tmp_path}/nobody.sock"
    bridge = SynapticBridge(endpoint, b"k" * 32, dispatch=main_thread.dispatch, timeout=0.3, retries=0)
    bridge.start()
    answered: list[str] = []
    bridge.send("genesis printString", answered.append)
    bridge.close(timeout=10)  # returns when every worker has stopped: the pending one after its 0.3 s
    assert not any(thread.is_alive() for thread in bridge._threads)
    assert answered == [] and main_thread.jobs.empty()
