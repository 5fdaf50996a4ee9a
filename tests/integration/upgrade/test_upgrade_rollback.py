"""Broken targets roll back: the old daemon still serves, nothing is lost, the reason is shown."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from batos_core.protocol.builders import incarnations_request, send_request, status_request, upgrade_request

from .conftest import make_wheel, request, run_batos


def _unchanged(daemon: Any, pid: int, incarnation: int) -> None:
    status = request(daemon.info, status_request())
    assert (status["pid"], status["incarnation"]) == (pid, incarnation)


def test_a_package_that_raises_on_import_fails_verification(daemon: Any, tmp_path: Path) -> None:
    daemon.install_counter()
    status = request(daemon.info, status_request())
    wheel = make_wheel(tmp_path, "brokenpkg", "raise RuntimeError('brokenpkg refuses to import')\n")
    done = run_batos(daemon.dirs, "upgrade", "--with", str(wheel))
    assert done.returncode == 1
    assert "failed verification" in done.stderr
    assert "brokenpkg refuses to import" in done.stderr
    assert "kept for inspection" in done.stderr
    _unchanged(daemon, status["pid"], status["incarnation"])
    assert request(daemon.info, send_request("genesis", "increment"))["result"] == 1


def test_a_missing_interpreter_changes_nothing(daemon: Any) -> None:
    status = request(daemon.info, status_request())
    done = run_batos(daemon.dirs, "upgrade", "--python", "/nonexistent/python3")
    assert done.returncode == 1
    assert "cannot run /nonexistent/python3" in done.stderr
    _unchanged(daemon, status["pid"], status["incarnation"])


def test_a_successor_that_dies_before_standby_rolls_back(daemon: Any) -> None:
    status = request(daemon.info, status_request())
    reply = request(daemon.info, upgrade_request("/bin/false"))
    assert reply["outcome"] == "rolled_back"
    assert "exited (status 1) before it was in standby" in reply["reason"]
    assert reply["old_pid"] == status["pid"]
    _unchanged(daemon, status["pid"], status["incarnation"])


def test_a_successor_not_ready_in_time_rolls_back_under_load(daemon: Any, load_factory: Any) -> None:
    """The old daemon had already closed the image and socket: it reopens both."""
    daemon.install_counter()
    status = request(daemon.info, status_request())
    load = load_factory(daemon.info, clients=2)
    while len(load.acks) < 10:
        time.sleep(0.05)
    reply = request(daemon.info, upgrade_request(ready_timeout_s=0.001), timeout=60.0)
    resumed_at = len(load.acks)
    while len(load.acks) < resumed_at + 10:  # the old daemon serves the load again
        time.sleep(0.05)
    acknowledged = load.stop()
    assert reply["outcome"] == "rolled_back"
    assert "not ready within 0.001 s" in reply["reason"]
    assert load.errors == []
    assert request(daemon.info, send_request("genesis", "counter"))["result"] == acknowledged
    assert request(daemon.info, status_request())["pid"] == status["pid"]
    entry = request(daemon.info, incarnations_request(limit=10))["entries"]
    mine = next(e for e in entry if e["pid"] == status["pid"])
    assert mine["outcome"] == "serving"
    assert [r["reason"] for r in mine["rollbacks"]] == [reply["reason"]]


def test_a_retried_upgrade_request_gets_the_stored_outcome(daemon: Any) -> None:
    message = upgrade_request("/bin/false")
    first = request(daemon.info, message)
    again = request(daemon.info, message)
    assert again == first
    history = run_batos(daemon.dirs, "incarnations", "--json")
    entries = json.loads(history.stdout)["entries"]
    assert len(entries[0]["rollbacks"]) == 1, "the retry did not start a second upgrade"
