"""`batos send`, `batos inspect` and `batos daemon ...` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import re
from typing import Any

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RED = re.compile(r"\x1b\[[0-9;]*31[;m]")


def test_first_command_auto_starts_the_daemon_and_says_so(batos: Any) -> None:
    done = batos("send", "genesis", "setSlot:value:", "x", "3")
    assert done.returncode == 0, done.stderr
    assert "started the batos daemon" in done.stderr
    assert "log:" in done.stderr
    again = batos("send", "genesis", "x")
    assert (again.returncode, again.stdout, again.stderr) == (0, "3\n", "")


def test_send_sets_and_reads_a_slot(module_batos: Any) -> None:
    assert module_batos("send", "genesis", "setSlot:value:", "y", "41").returncode == 0
    done = module_batos("send", "genesis", "y")
    assert (done.returncode, done.stdout.strip()) == (0, "41")
    # The interleaved keyword form names the same selector.
    assert module_batos("send", "genesis", "setSlot:", "y", "value:", "42").returncode == 0
    assert module_batos("send", "genesis", "y").stdout.strip() == "42"


def test_print_string_prints_the_objects_description(module_batos: Any) -> None:
    done = module_batos("send", "genesis", "printString")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("a UvmObject 0x")
    assert done.stdout.count("\n") == 1


def test_not_understood_exits_4_with_one_red_line(module_batos: Any) -> None:
    done = module_batos("send", "genesis", "nope", color=True)
    assert done.returncode == 4
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert RED.search(lines[0]), repr(lines[0])
    plain = ANSI.sub("", lines[0])
    assert plain.startswith("error:")
    assert "nope" in plain
    assert "Traceback" not in done.stderr


def test_a_bad_reference_exits_6_with_one_line(module_batos: Any) -> None:
    done = module_batos("inspect", "zz!")
    assert done.returncode == 6
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:") and "zz!" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_missing_object_exits_7(module_batos: Any) -> None:
    done = module_batos("inspect", "0x7fffff")
    assert done.returncode == 7
    assert len(done.stderr.strip().splitlines()) == 1


def test_inspect_json_is_json_with_slots(module_batos: Any) -> None:
    assert module_batos("send", "genesis", "setSlot:value:", "z", "'some text'").returncode == 0
    done = module_batos("inspect", "genesis", "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["type"] == "inspect_reply"
    slots = {slot["name"]: slot for slot in reply["slots"]}
    assert slots["parent*"]["kind"] == "parent"
    assert slots["z"] == {"name": "z", "kind": "data", "value": "some text", "is_constant": False}


def test_inspect_shows_a_table(module_batos: Any) -> None:
    done = module_batos("inspect", "genesis")
    assert done.returncode == 0, done.stderr
    assert "parent*" in done.stdout and "slot" in done.stdout


def test_daemon_start_twice_says_already_running(batos: Any) -> None:
    first = batos("daemon", "start")
    assert first.returncode == 0, first.stderr
    assert "started the daemon (pid" in first.stdout
    second = batos("daemon", "start")
    assert second.returncode == 0
    assert "already running" in second.stdout


def test_daemon_status_stop_and_logs(batos: Any) -> None:
    stopped = batos("daemon", "status")
    assert stopped.returncode == 3
    assert "no daemon is running" in stopped.stdout
    assert batos("daemon", "start").returncode == 0
    status = batos("daemon", "status", "--json")
    assert status.returncode == 0, status.stderr
    facts = json.loads(status.stdout)
    assert facts["running"] is True and facts["type"] == "status_reply"
    human = batos("daemon", "status")
    assert f"daemon pid {facts['pid']} serving" in human.stdout
    logs = batos("daemon", "logs", "-n", "50")
    assert logs.returncode == 0
    assert f"daemon {facts['pid']} serving" in logs.stdout
    stop = batos("daemon", "stop")
    assert (stop.returncode, stop.stdout.strip()) == (0, f"stopped the daemon (pid {facts['pid']})")
    assert batos("daemon", "status").returncode == 3
    assert "no daemon is running" in batos("daemon", "stop").stdout


def test_an_insecure_runtime_dir_is_one_line_and_starts_nothing(batos: Any, batos_dirs: Any) -> None:
    os.chmod(batos_dirs.runtime_dir, 0o755)
    done = batos("send", "genesis", "x")
    assert done.returncode == 6
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(batos_dirs.runtime_dir) in lines[0] and "0755" in lines[0]
    assert not list(batos_dirs.runtime_dir.iterdir())
    assert not batos_dirs.image.exists()


def test_send_expr_evaluates_self_source_in_one_request(module_batos: Any) -> None:
    done = module_batos("send", "--expr", "3 + 4 * 2")  # binary messages go left to right
    assert (done.returncode, done.stdout, done.stderr) == (0, "14\n", "")
    done = module_batos("send", "-e", "genesis setSlot: #expr_slot value: 5. genesis expr_slot + 1")
    assert (done.returncode, done.stdout) == (0, "6\n"), done.stderr
    done = module_batos("send", "--expr", "genesis expr_slot * 10", "--json")
    reply = json.loads(done.stdout)
    assert (reply["type"], reply["result"]) == ("eval_reply", 50)


def test_send_expr_reports_a_syntax_error_with_a_caret_and_sends_nothing(batos: Any) -> None:
    done = batos("send", "--expr", "genesis setSlot: 'x' value: (3 +")
    assert done.returncode == 6, done.stderr
    lines = done.stderr.rstrip("\n").splitlines()
    assert lines[0].startswith("error: syntax error:"), done.stderr
    assert lines[-1].strip() == "^" and lines[-2].strip().startswith("genesis setSlot:"), done.stderr
    assert "started the batos daemon" not in done.stderr  # found before anything was sent


def test_send_expr_errors_from_the_daemon_keep_their_exit_status(module_batos: Any) -> None:
    done = module_batos("send", "--expr", "genesis noSuchSelectorHere")
    assert done.returncode == 4, done.stderr  # not understood, as for a plain send
    assert "noSuchSelectorHere" in done.stderr
    done = module_batos("send", "--expr", "1 + nowhere")
    assert done.returncode == 6, done.stderr  # bad input
    assert "line 1, column 5: unknown name 'nowhere'" in done.stderr


def test_send_takes_a_message_or_expr_but_not_both_and_not_neither(module_batos: Any) -> None:
    both = module_batos("send", "genesis", "printString", "--expr", "3")
    assert both.returncode == 2 and "not both" in both.stderr
    neither = module_batos("send")
    assert neither.returncode == 2 and "missing RECEIVER and MESSAGE (or --expr SOURCE)" in neither.stderr
    no_message = module_batos("send", "genesis")
    assert no_message.returncode == 2 and "missing MESSAGE" in no_message.stderr
    empty = module_batos("send", "--expr", "  ")
    assert empty.returncode == 2 and "needs Self source" in empty.stderr


def test_a_symlinked_connection_file_is_insecure_exit_6(batos: Any, batos_dirs: Any) -> None:
    from batos_core.daemon_config import DaemonConfig

    config = DaemonConfig(image=str(batos_dirs.image), runtime_dir=batos_dirs.runtime_dir)
    connection = config.connection_path()
    elsewhere = batos_dirs.root / "elsewhere.json"
    elsewhere.write_text("{}")
    os.chmod(elsewhere, 0o600)
    connection.symlink_to(elsewhere)
    done = batos("send", "genesis", "x")
    assert done.returncode == 6, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is a symbolic link" in lines[0], done.stderr
    assert not batos_dirs.image.exists()


def test_send_expr_nested_3000_deep_is_a_syntax_error_exit_6(batos: Any) -> None:
    done = batos("send", "--expr", "(" * 3000 + "1" + ")" * 3000)
    assert done.returncode == 6, done.stderr
    assert done.stderr.startswith("error: syntax error: line 1, column 65: nested more than 64 deep")
    assert "started the batos daemon" not in done.stderr  # found before anything was sent
