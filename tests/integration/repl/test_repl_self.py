"""The REPL with the Self language against a real daemon: blocks typed over
several lines, a Self method's Self signature in ``obj?``, its Self source
in ``??`` and its compiled Python in ``:python``."""

from __future__ import annotations

from .conftest import RunningDaemon, drive


def test_a_block_and_a_method_body_continue_over_lines(daemon: RunningDaemon) -> None:
    # Enter inside '[' or '( |' opens a continuation line; the statement runs once closed.
    driven = drive(daemon.info, "| s | s := 0. 1 to: 4 do: [ :i |\r s := s + i ]. s\r")
    assert driven.output.strip().splitlines()[-1] == "10"
    driven = drive(daemon.info, "(| f: x = ( | t |\r t := x * 2.\r ^ t + 1 ) |) f: 4\r")
    assert driven.output.strip().splitlines()[-1] == "9"


def test_inspect_shows_self_signatures_and_source_shows_self_first(daemon: RunningDaemon) -> None:
    keys = (
        "p := genesis clone\r"
        "p _AddSlots: (| scale: k By: m = ( k * m ). area = ( 12 ) |)\r"
        "p?\r"
        "p scale:by:??\r"
        ":python p scale:by:\r"
    )
    out = drive(daemon.info, keys).output
    lines = [line.split() for line in out.splitlines()]
    assert ["scale:", "k", "by:", "m", "Self", "method", "v1"] in lines
    assert ["area", "Self", "method", "v1"] in lines
    assert "scale: k By: m = ( k * m )" in out
    assert "written in Self; :python" in out
    assert "def scale_by_(self, v1_k, v2_m):" in out  # :python shows the compiled source
    assert out.count("def scale_by_") == 1  # and ?? did not
