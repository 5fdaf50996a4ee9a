"""Candidates through a real daemon: `--candidates N`, its bounds, and what history shows."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from jit_helpers import BatosCli, ScriptedDaemons, fenced, history, result_of

DOUBLE = "def double_(self, n):\n    return n * 2\n"
TWICE = "def double_(self, n):\n    return n + n\n"
TRIPLE = "def double_(self, n):\n    return n * 3\n"


@pytest.mark.parametrize("count", ["0", "17"])
def test_the_daemon_refuses_a_candidate_count_outside_1_to_16(batos_dirs: Any, count: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "batos_core.daemon", "--backend", "none", "--candidates", count],
        env=batos_dirs.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "--candidates" in done.stderr and "1 to 16" in done.stderr


@pytest.mark.parametrize("count", ["0", "17"])
def test_batos_daemon_start_refuses_it_as_a_usage_error(cli: BatosCli, count: str) -> None:
    done = cli("daemon", "start", "--backend", "none", "--candidates", count)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "--candidates" in done.stderr
    assert "started the daemon" not in done.stdout


def test_history_and_source_show_how_the_method_was_chosen(scripted: ScriptedDaemons, cli: BatosCli) -> None:
    # K = 3: candidates 1 and 3 agree (8), candidate 2 does not (12); a majority at the last one.
    daemon = scripted([fenced(DOUBLE), fenced(TRIPLE), fenced(TWICE)], candidates=3)
    assert result_of(daemon, "genesis", "double:", 4) == 8
    [record] = history(daemon, "double_")
    chosen = record["provenance"]["candidates"]
    assert (chosen["k"], chosen["groups"], chosen["winner"], chosen["generated"]) == (3, [2, 1], 1, 3)
    shown = cli("history")
    assert shown.returncode == 0, shown.stderr
    assert "#1/3 groups 2+1" in shown.stdout, shown.stdout
    source = cli("source", "genesis", "double:")
    assert "candidates: #1/3 groups 2+1" in source.stdout, source.stdout


def test_an_easy_message_stops_at_a_majority(scripted: ScriptedDaemons, cli: BatosCli) -> None:
    daemon = scripted([fenced(DOUBLE), fenced(TWICE)], candidates=3)  # a third call would fail
    assert result_of(daemon, "genesis", "double:", 21) == 42
    [record] = history(daemon, "double_")
    assert record["provenance"]["candidates"]["early_stop"] is True
    assert "#1/3 groups 2 early" in cli("history").stdout


def test_every_daemon_argv_carries_the_candidate_count(batos_dirs: Any) -> None:
    from batos_cli.connect import daemon_args
    from batos_core.daemon.server import standby_args
    from batos_core.daemon_config import DaemonConfig, build_parser, config_from_args

    where = {"image": str(batos_dirs.image), "runtime_dir": batos_dirs.runtime_dir, "backend": "none"}
    config = DaemonConfig(**where, candidates=3)
    for argv in (daemon_args(config), standby_args(config)):
        parsed = config_from_args(build_parser().parse_args(argv[2:]))  # past "-m batos_core.daemon"
        assert parsed.candidates == 3, argv
    unset = DaemonConfig(**where)
    assert "--candidates" not in daemon_args(unset) + standby_args(unset)  # the JIT's default then
