"""A supervised daemon upgraded with `batos upgrade`: the supervisor follows the
successor (not its child) and restarts it, with its command line, when it wedges."""

from __future__ import annotations

import json
from typing import Any

from batos_core.protocol.builders import send_request, status_request
from tests.integration.daemon.test_daemon_wedge import (
    _await_wedge,
    _install_wedge,
    _status_after_wedge,
    _wedge_in_thread,
)

from .conftest import current_info, request, run_batos


def test_the_supervisor_follows_an_upgrade_and_restarts_the_successor(daemon_factory: Any) -> None:
    daemon = daemon_factory(wedge_timeout=3.0)
    _install_wedge(daemon)
    upgraded = run_batos(daemon.dirs, "upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    successor = json.loads(upgraded.stdout)["new_pid"]
    assert request(current_info(daemon.dirs, daemon), status_request())["pid"] == successor

    thread, outcome, request_id = _wedge_in_thread(daemon)
    wedged_at = _await_wedge(daemon, request_id)
    status, elapsed = _status_after_wedge(daemon, wedged_at, successor)
    assert status["type"] == "status_reply" and status["pid"] not in (successor, daemon.proc.pid), status
    assert elapsed < 3.0 + 5.0, elapsed
    thread.join(60.0)
    assert outcome["reply"]["code"] == "method_suspended", outcome
    assert request(daemon.info, send_request("genesis", "wedge"))["code"] == "method_suspended"
    log = daemon.log_text()
    assert f"handed the image over to {successor}" in log
    assert f"killed wedged daemon {successor}" in log
