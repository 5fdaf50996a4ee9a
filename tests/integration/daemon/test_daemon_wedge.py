"""A method stuck in C code that holds the GIL: the supervisor restarts the daemon,
the method is suspended, nothing acknowledged is lost (real daemon and supervisor
subprocesses)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

import pytest

from batos_cli import connect
from batos_core.daemon.vitals import read_workers
from batos_core.protocol.builders import (
    create_method_request,
    history_request,
    incarnations_request,
    inspect_request,
    send_request,
    status_request,
    suspension_request,
)
from batos_core.protocol.client import Client
from batos_core.protocol.errors import DaemonUnavailable
from tests.integration.cli.conftest import batos_runner, stop_daemon_of
from tests.integration.conftest import BatosDirs, DaemonFactory, DaemonProcess, daemon_config

#: Catastrophic backtracking in C; the GIL is never released while it runs.
# 2**31 backtracking steps: about two minutes holding the GIL on this machine,
# far past every wedge timeout here, yet a wedged process a failed test leaves
# behind ends by itself instead of spinning for hours.
WEDGE_SOURCE = "import re\n\ndef wedge(self):\n    return re.match('(a+)+$', 'a' * 31 + 'b') is not None\n"
WEDGE_WAIT_S = 10.0


def _install_wedge(daemon: DaemonProcess) -> None:
    with daemon.client() as client:
        reply = client.request(create_method_request("genesis", "wedge", WEDGE_SOURCE))
    assert reply["type"] == "create_method_reply", reply


def _wedge_in_thread(daemon: DaemonProcess) -> tuple[threading.Thread, dict[str, Any], str]:
    """Send `genesis wedge` from a thread (a client with the CLI's budget);
    returns the thread, where its reply lands, and the request id."""
    request = send_request("genesis", "wedge", [])
    outcome: dict[str, Any] = {}

    def run() -> None:
        with Client.from_connection_info(daemon.info, timeout=30.0, retries=2) as client:
            outcome["reply"] = client.request(request)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome, request["id"]


def _await_wedge(daemon: DaemonProcess, request_id: str) -> float:
    """The moment a worker is seen running `request_id` (the vitals file says so)."""
    path = daemon_config(daemon.dirs, daemon.image).vitals_path()
    deadline = time.monotonic() + WEDGE_WAIT_S
    while time.monotonic() < deadline:
        if any(w.busy and w.request_id == request_id for w in read_workers(path)):
            return time.monotonic()
        time.sleep(0.01)
    raise AssertionError(f"no worker ran {request_id} within {WEDGE_WAIT_S} s")


def _status_after_wedge(
    daemon: DaemonProcess, wedged_at: float, wedged_pid: int
) -> tuple[dict[str, Any], float]:
    """The first status answered by another daemon than ``wedged_pid``, and its time since the wedge.

    The worker is marked busy a moment before it enters the C code; a status
    sent in that moment is still answered by the wedging daemon, so ask again.
    """
    while True:
        with Client.from_connection_info(daemon.info, timeout=15.0, retries=0) as client:
            reply = client.request(status_request())
        elapsed = time.monotonic() - wedged_at
        if reply.get("pid") != wedged_pid or elapsed > WEDGE_WAIT_S + 15.0:
            return reply, elapsed
        time.sleep(0.05)


def test_a_wedged_daemon_restarts_and_suspends_the_method(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(wedge_timeout=3.0)
    daemon.install_counter()
    assert daemon.send("genesis", "increment")["result"] == 1  # acknowledged before the wedge
    _install_wedge(daemon)
    first_pid = daemon.status()["pid"]

    thread, outcome, request_id = _wedge_in_thread(daemon)
    wedged_at = _await_wedge(daemon, request_id)
    status, elapsed = _status_after_wedge(daemon, wedged_at, first_pid)

    assert status["type"] == "status_reply", status
    assert status["pid"] != first_pid  # a new daemon answered
    assert elapsed < 3.0 + 5.0, elapsed
    thread.join(60.0)
    reply = outcome["reply"]
    assert reply["type"] == "error_reply", reply
    assert (reply["name"], reply["code"]) == ("MethodSuspended", "method_suspended")
    assert "'wedge' of genesis is suspended" in reply["message"]
    assert "batos methods resume genesis wedge" in reply["message"]

    assert daemon.send("genesis", "counter")["result"] == 1  # nothing acknowledged was lost
    again = daemon.send("genesis", "wedge")
    assert again["code"] == "method_suspended", again
    with daemon.client() as client:
        entries = client.request(history_request("genesis", "wedge"))["entries"]
        assert [e["action"] for e in entries][:2] == ["suspend", "install"]
        assert entries[0]["provenance"]["request"] == request_id
        methods = client.request(inspect_request("genesis"))["methods"]
        assert {m["selector"]: m["suspended"] for m in methods}["wedge"] is True
        resumed = client.request(suspension_request("genesis", "wedge", suspend=False))
        assert (resumed["changed"], resumed["suspended"]) == (True, False)
        methods = client.request(inspect_request("genesis"))["methods"]
        assert {m["selector"]: m["suspended"] for m in methods}["wedge"] is False
        entries = client.request(incarnations_request())["entries"]
        assert [(e["via"], e["outcome"]) for e in entries[:2]] == [("restart", "serving"), ("start", "ended")]

    log = daemon.log_text()
    assert "killed wedged daemon" in log and "running method wedge" in log
    assert "suspended method wedge of genesis" in log
    assert "restarted the daemon as pid" in log
    assert "ready to replace it" in log  # a standby was warm before the kill


@pytest.mark.slow
def test_status_is_answered_within_12_s_of_a_wedge_with_the_default_timeout(
    daemon_factory: DaemonFactory,
) -> None:
    daemon = daemon_factory(wedge_timeout=10.0)
    _install_wedge(daemon)
    first_pid = daemon.status()["pid"]
    thread, outcome, request_id = _wedge_in_thread(daemon)
    wedged_at = _await_wedge(daemon, request_id)
    status, elapsed = _status_after_wedge(daemon, wedged_at, first_pid)
    assert status["type"] == "status_reply" and status["pid"] != first_pid, status
    assert elapsed < 12.0, elapsed
    thread.join(60.0)
    assert outcome["reply"]["code"] == "method_suspended", outcome


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cli_suspends_resumes_and_stops_a_supervised_daemon(batos_dirs: BatosDirs) -> None:
    batos = batos_runner(batos_dirs)
    config = daemon_config(batos_dirs)
    try:
        started = batos("daemon", "start", "--wedge-timeout", "3")
        assert started.returncode == 0, started.stderr
        info, supervisor = connect.running(config), connect.supervisor_pid(config)
        assert info is not None and supervisor is not None and supervisor != info.pid
        with Client.from_connection_info(info, timeout=30.0, retries=0) as client:
            reply = client.request(
                create_method_request("genesis", "hello", "def hello(self):\n    return 7\n")
            )
            assert reply["type"] == "create_method_reply", reply

        suspended = batos("methods", "suspend", "genesis", "hello", "--reason", "testing")
        assert suspended.returncode == 0, suspended.stderr
        refused = batos("send", "genesis", "hello")
        assert refused.returncode == 12, (refused.stdout, refused.stderr)
        assert "batos methods resume genesis hello" in refused.stderr
        assert "suspended: testing" in batos("history", "genesis").stdout
        resumed = batos("methods", "resume", "genesis", "hello")
        assert resumed.returncode == 0 and "runs again" in resumed.stdout, resumed.stderr
        assert batos("send", "genesis", "hello").stdout.strip() == "7"

        stopped = batos("daemon", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert not _alive(info.pid) and not _alive(supervisor)
        assert connect.running(config) is None
    finally:
        stop_daemon_of(batos_dirs)


def test_a_daemon_wedged_while_stopping_is_killed_not_restarted_and_suspended_at_the_next_start(
    batos_dirs: BatosDirs,
) -> None:
    batos = batos_runner(batos_dirs)
    config = daemon_config(batos_dirs)
    try:
        assert batos("daemon", "start", "--wedge-timeout", "3").returncode == 0
        info, supervisor = connect.running(config), connect.supervisor_pid(config)
        assert info is not None and supervisor is not None
        with Client.from_connection_info(info, timeout=30.0, retries=0) as client:
            assert (
                client.request(create_method_request("genesis", "wedge", WEDGE_SOURCE))["type"]
                != "error_reply"
            )
        request = send_request("genesis", "wedge", [])

        def wedge() -> None:
            with (
                contextlib.suppress(DaemonUnavailable),
                Client.from_connection_info(info, timeout=20.0, retries=0) as client,
            ):
                client.request(request)  # never answered: the daemon is stopped, not restarted

        threading.Thread(target=wedge, daemon=True).start()
        vitals_path = config.vitals_path()
        deadline = time.monotonic() + WEDGE_WAIT_S
        while not any(w.busy and w.request_id == request["id"] for w in read_workers(vitals_path)):
            assert time.monotonic() < deadline, "the wedge never started"
            time.sleep(0.01)
        stopped = batos("daemon", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert not _alive(info.pid) and not _alive(supervisor)
        assert connect.running(config) is None  # nothing was restarted
        log = (batos_dirs.state_dir / config.log_path().name).read_text()
        assert "killed wedged daemon" in log and "restarted the daemon" not in log

        refused = batos("send", "genesis", "wedge")  # starts a new daemon, which suspends it first
        assert refused.returncode == 12, (refused.stdout, refused.stderr)
    finally:
        stop_daemon_of(batos_dirs)
