"""What clients send cannot forge the daemon's log, crash its parser, or redirect its files."""

from __future__ import annotations

import os
from typing import Any

from batos_core.daemon.lifecycle import EXIT_CONFIG_ERROR
from batos_core.protocol.builders import eval_request
from batos_core.selfsyntax.parser import MAX_NESTING

FORGED = "2026-01-01 00:00:00,000 ERROR batos_core.daemon: forged"


def test_request_ids_are_escaped_in_the_log(daemon: Any) -> None:
    request_id = f"innocent\n{FORGED}\r\x1b[31mred\u2028"
    reply = daemon.client().request(eval_request("1 / 0", request_id=request_id))
    assert reply["type"] == "error_reply" and reply["code"] == "user_error", reply
    log = daemon.log_text()
    assert f"request innocent\\n{FORGED}\\r\\x1b[31mred\\u2028 failed" in log
    assert not any(line.startswith(FORGED) for line in log.splitlines())
    assert "\x1b" not in log and "\r" not in log and "\u2028" not in log


def test_deeply_nested_eval_source_is_a_syntax_error(daemon: Any) -> None:
    source = "(" * 3000 + "1" + ")" * 3000
    reply = daemon.client().request(eval_request(source))
    assert reply["type"] == "error_reply" and reply["code"] == "syntax_error", reply
    assert f"nested more than {MAX_NESTING} deep" in reply["message"]
    assert daemon.status()["type"] == "status_reply"  # and it still serves


def test_the_daemon_refuses_a_symlinked_connection_file(daemon_factory: Any, launch_daemon: Any) -> None:
    first = daemon_factory()
    assert first.stop() == 0
    connection = first.connection_path
    target = connection.with_name("elsewhere.json")
    os.replace(connection, target)
    connection.symlink_to(target)
    proc, line, log_path = launch_daemon()
    assert proc.wait(30) == EXIT_CONFIG_ERROR
    assert line.startswith("error ") and "is a symbolic link" in line, line
    assert "refusing to start" in log_path.read_text()
    assert connection.is_symlink()
