"""The supervisor's pieces without processes: dump parsing, the culprit, its decisions, the vitals file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from batos_core.daemon.supervisor import (
    ExitVerdict,
    is_wedged,
    judge_exit,
    restart_argv,
    wedge_timeout_from,
)
from batos_core.daemon.vitals import Vitals, WorkerRecord, read_beat, read_workers
from batos_core.daemon.wedge import BadWedgeReport, WedgeReport, find_culprit, parse_dump

# What Python 3.11's faulthandler wrote for a daemon wedged in `re.match`.
DUMP = """\
Thread 0x00007fc551e3d6c0 (most recent call first):
  File "/usr/lib/python3.11/re/__init__.py", line 166 in match
  File "<method wedge>", line 4 in wedge
  File "<method outer>", line 2 in outer
  File "/src/batos_core/objects/uvm_object.py", line 300 in send
  File "/src/batos_core/daemon/workers.py", line 177 in _work

Thread 0x00007fc5516006c0 (most recent call first):
  File "<trusted method tally_>", line 3 in tally_
  File "/src/batos_core/daemon/workers.py", line 177 in _work

Thread 0x00007fc550dff6c0 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 327 in wait

Current thread 0x00007fc552a78b80 (most recent call first):
  File "/usr/lib/python3.11/selectors.py", line 468 in select
  File "<frozen runpy>", line ??? in _run_code
"""
WEDGED, OTHER, IDLE, LOOP = 0x7FC551E3D6C0, 0x7FC5516006C0, 0x7FC550DFF6C0, 0x7FC552A78B80


def _worker(
    ident: int, native: int, request: str, selector: str, *, busy: bool = True, started: int = 0
) -> WorkerRecord:
    return WorkerRecord(0, busy, ident, native, started, request, "send_request", "genesis", selector)


def test_parse_dump_reads_threads_and_frames_innermost_first() -> None:
    threads = parse_dump(DUMP)
    assert [t.ident for t in threads] == [WEDGED, OTHER, IDLE, LOOP]
    assert str(threads[0].frames[1]) == 'File "<method wedge>", line 4 in wedge'
    assert threads[0].innermost_method() == threads[0].frames[1]  # not the outer method
    assert threads[1].innermost_method() is not None
    assert threads[1].frames[0].method_selector == "tally_"  # a trusted method's file
    assert threads[2].innermost_method() is None
    assert threads[3].frames[1].lineno == 0  # "line ???"


def test_the_culprit_is_the_busy_worker_that_gained_cpu_and_its_innermost_method() -> None:
    workers = [_worker(OTHER, 11, "r-other", "tally:"), _worker(WEDGED, 12, "r-wedge", "outer")]
    report = find_culprit(parse_dump(DUMP), workers, {11: 0, 12: 20}, pid=7, time=1.0, silent_s=10.2)
    assert report is not None
    assert (report.request_id, report.method_selector, report.request_selector) == (
        "r-wedge",
        "wedge",
        "outer",
    )
    assert report.selectors == ["wedge", "outer"]
    assert report.stack[1] == 'File "<method wedge>", line 4 in wedge'


def test_without_cpu_figures_the_earliest_request_is_blamed() -> None:
    workers = [
        _worker(OTHER, 11, "late", "tally:", started=20),
        _worker(WEDGED, 12, "early", "outer", started=10),
    ]
    report = find_culprit(parse_dump(DUMP), workers, {}, pid=7, time=1.0, silent_s=3)
    assert report is not None and report.request_id == "early"


def test_a_busy_worker_with_no_method_frame_falls_back_to_the_request_selector() -> None:
    workers = [_worker(IDLE, 13, "r1", "setSlot:value:")]
    report = find_culprit(parse_dump(DUMP), workers, {}, pid=7, time=1.0, silent_s=3)
    assert report is not None and report.method_selector == "" and report.selectors == ["setSlot_value_"]
    assert (
        find_culprit(parse_dump(""), workers, {}, pid=7, time=1.0, silent_s=3) is not None
    )  # no dump at all


def test_no_busy_worker_means_no_culprit() -> None:
    idle = [_worker(WEDGED, 12, "done", "outer", busy=False)]
    assert find_culprit(parse_dump(DUMP), idle, {12: 50}, pid=7, time=1.0, silent_s=3) is None


def test_a_report_round_trips_and_garbage_is_refused(tmp_path: Path) -> None:
    report = WedgeReport(1, 2.0, 3.0, "rid", "send_request", "genesis", "spin", "spin", ["frame"])
    path = tmp_path / "x.wedge.json"
    report.write(path)
    assert WedgeReport.read(path) == report
    path.write_text("{not json")
    with pytest.raises(BadWedgeReport):
        WedgeReport.read(path)


@pytest.mark.parametrize(
    ("status", "pidfile_pid", "successor_alive", "follow", "words"),
    [
        (0, None, False, None, "stopped"),
        (4, 100, False, None, "exited with status 4; not restarted"),
        (-11, 100, False, None, "crashed (signal 11); not restarted"),
        (0, 200, True, 200, "handed the image over to 200"),
        (0, 200, False, None, "stopped"),
        (None, 100, False, None, "left its pidfile"),
        (None, None, False, None, "stopped"),
    ],
)
def test_the_supervisor_restarts_nothing_that_exited_by_itself(
    status: int | None, pidfile_pid: int | None, successor_alive: bool, follow: int | None, words: str
) -> None:
    verdict = judge_exit(pid=100, status=status, pidfile_pid=pidfile_pid, pidfile_pid_alive=successor_alive)
    assert isinstance(verdict, ExitVerdict)
    assert verdict.follow == follow
    assert words in verdict.reason


def test_only_a_daemon_that_has_beaten_can_be_wedged() -> None:
    assert is_wedged(beating=True, last_change=0.0, now=10.0, timeout=10.0)
    assert not is_wedged(beating=True, last_change=0.5, now=10.0, timeout=10.0)
    assert not is_wedged(beating=False, last_change=0.0, now=100.0, timeout=10.0)  # still starting


def test_a_restart_drops_the_one_off_options_of_a_standby_successor() -> None:
    cmdline = [
        "/venv2/bin/python",
        "-m",
        "batos_core.daemon",
        "--standby",
        "--image",
        "/i.fs",
        "--go-fd",
        "7",
    ]
    cmdline += ["--ready-fd=9", "--accept-since-ns", "123", "--workers", "4"]
    assert restart_argv(cmdline) == [
        "/venv2/bin/python",
        "-m",
        "batos_core.daemon",
        "--image",
        "/i.fs",
        "--workers",
        "4",
    ]


def test_the_wedge_timeout_comes_from_the_option_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BATOS_WEDGE_TIMEOUT", raising=False)
    assert wedge_timeout_from(None) == 10.0
    monkeypatch.setenv("BATOS_WEDGE_TIMEOUT", "2.5")
    assert wedge_timeout_from(None) == 2.5
    assert wedge_timeout_from(4.0) == 4.0
    with pytest.raises(ValueError, match="positive"):
        wedge_timeout_from(0.0)


def test_the_vitals_file_carries_beats_and_each_workers_request(tmp_path: Path) -> None:
    path = tmp_path / "x.vitals"
    assert read_beat(path) is None and read_workers(path) == []
    vitals = Vitals(path)
    first = read_beat(path)
    assert first is not None and first.counter == 1
    vitals.beat()
    second = read_beat(path)
    assert second is not None and second.counter == 2 and second.monotonic_ns >= first.monotonic_ns
    seen: list[int] = []
    started, finish = threading.Event(), threading.Event()

    def work() -> None:
        vitals.begin("rid-1", "send_request", "genesis", "spin:" + "x" * 300)  # cut to the slot's size
        seen.append(threading.get_ident())
        started.set()
        finish.wait()

    thread = threading.Thread(target=work)
    thread.start()
    started.wait()
    vitals.begin("rid-2", "eval_request", "", "")
    vitals.end()
    records = {r.request_id: r for r in read_workers(path)}
    finish.set()
    thread.join()
    assert records["rid-1"].busy and records["rid-1"].ident == seen[0]
    assert records["rid-1"].selector.startswith("spin:x")
    assert not records["rid-2"].busy and records["rid-2"].ident == threading.get_ident()
    vitals.close()
    assert read_beat(path) == second  # what a killed daemon left stays readable


def test_a_restart_go_line_continues_a_guard_that_starts_at_the_kill() -> None:
    from batos_core.protocol.replay import ReplayGuard
    from batos_core.upgrade.handover import HandoverGo

    go = HandoverGo.from_line(HandoverGo.restart(killed_ns=5_000, old_pid=42).to_line())
    assert (go.via, go.request_id, go.old_pid) == ("restart", "", 42)
    guard = ReplayGuard.from_state(go.guard, skew_ns=0, clock=lambda: 6_000)
    assert guard.start_ns == 5_000  # an envelope signed after the kill is fresh, one before it is stale
