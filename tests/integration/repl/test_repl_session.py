"""The REPL driven through prompt_toolkit's pipe input against a real daemon."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.history import FileHistory

from .conftest import RunningDaemon, drive

UP = "\x1b[A"


def test_a_plain_value_prints_plainly(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, "3 + 4\r")
    assert driven.output.strip() == "7"


def test_variables_hold_objects_across_inputs(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, "a := genesis clone\ra setSlot: #x value: 41\ra x + 1\r")
    ref = driven.session.variables["a"]
    assert isinstance(ref, dict) and ref["$ref"].startswith("0x")
    assert driven.output.strip().splitlines()[-1] == "42"


def test_an_object_result_is_a_slot_table_with_its_oid(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, "b := genesis clone\rb setSlot: #colour value: 'red'\r")
    oid = driven.session.variables["b"]["$ref"]
    lines = driven.output.splitlines()
    assert any(line.startswith(oid) for line in lines)
    assert any(line.split() == ["colour", "red"] for line in lines)


def test_keyword_sends(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, "genesis respondsTo: #clone\rgenesis respondsTo: #noSuchThing\r")
    assert driven.output.split() == ["true", "false"]


def test_object_literal_typed_over_two_lines(daemon: RunningDaemon) -> None:
    # Enter inside the open '(|' continues the input instead of running it.
    driven = drive(daemon.info, "o := (| x <- 3.\r y = 4 |)\ro x * o y\r")
    assert driven.output.strip().splitlines()[-1] == "12"
    assert "o" in driven.session.variables


def test_a_syntax_error_is_shown_with_a_caret_and_not_sent(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, "3 + )\r")
    lines = driven.output.splitlines()
    assert lines[0].startswith("SelfSyntaxError: line 1, column 5")
    assert lines[1:3] == ["  3 + )", "      ^"]


def test_a_remote_error_is_one_red_line_and_tb_shows_its_traceback(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, "1 / 0\r:tb\r")
    lines = driven.output.splitlines()
    assert lines[0] == "ZeroDivisionError: division by zero"
    assert lines[1] == "Traceback (most recent call last):"
    assert "ZeroDivisionError" in lines[-1]


def test_an_unknown_name_error_points_at_its_column(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, "3 + nowhere\r")
    assert driven.output.splitlines()[1:3] == ["  3 + nowhere", "      ^"]


def test_a_message_nobody_understands_reports_the_selector(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, "genesis frobnicate\r")
    assert driven.output.startswith("SlotNotFound")
    assert "frobnicate" in driven.output


def test_question_mark_inspects_and_double_shows_inherited_source(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, "k := genesis clone\rk?\rk clone??\r")
    oid = driven.session.variables["k"]["$ref"]
    assert sum(line.startswith(oid) for line in driven.output.splitlines()) == 2
    assert "def clone(self):" in driven.output


def test_meta_commands(daemon: RunningDaemon) -> None:
    driven = drive(daemon.info, ":help\r:inspect genesis\r:nope\r:review on\r:quit\r3 + 4\r")
    out = driven.output
    assert ":source X sel" in out
    assert "parent*" in out
    assert "unknown command: :nope" in out
    assert "review is on" in out
    assert "7" not in out.split()  # :quit ended the session before 3 + 4


def test_history_persists_across_two_sessions(daemon: RunningDaemon, tmp_path: Path) -> None:
    path = tmp_path / "history"
    drive(daemon.info, "20 + 22\r", history=FileHistory(str(path)))
    second = drive(daemon.info, UP + "\r1 + 1\r", history=FileHistory(str(path)))
    assert second.output.split() == ["42", "2"]
    # Recalling an entry does not store it twice; the file keeps both sessions' inputs.
    assert list(FileHistory(str(path)).load_history_strings()) == ["1 + 1", "20 + 22"]


def test_up_arrow_searches_history_by_prefix(daemon: RunningDaemon, tmp_path: Path) -> None:
    path = tmp_path / "history"
    drive(daemon.info, "100 - 1\r2 * 3\r", history=FileHistory(str(path)))
    second = drive(daemon.info, "10" + UP + "\r", history=FileHistory(str(path)))
    assert second.output.strip() == "99"
