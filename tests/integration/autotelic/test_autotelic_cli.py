"""`batos cem`, `batos autotelic`, `batos dataset export` as subprocesses, against a real daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batos_cli import connect
from batos_core.daemon_config import DaemonConfig

BATOS = [sys.executable, "-m", "batos_cli.main"]
PROPOSAL = (
    "selector: doubled_balance\n"
    "intent: return twice the balance\n"
    "check: self.doubled_balance() == 2 * self.balance"
)
DOUBLED = "```python\ndef doubled_balance(self):\n    return 2 * self.balance\n```"


@pytest.fixture
def batos(batos_dirs: Any) -> Iterator[Any]:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = batos_dirs.env({"COLUMNS": "120"})
        return subprocess.run([*BATOS, *args], env=env, capture_output=True, text=True, timeout=120)

    yield run
    config = DaemonConfig(image=str(batos_dirs.image), runtime_dir=batos_dirs.runtime_dir)
    if connect.running(config) is not None:
        connect.stop(config)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def test_cem_autotelic_and_dataset_export_from_the_cli(batos: Any, batos_dirs: Any, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([PROPOSAL, DOUBLED]))
    _ok(batos("daemon", "start", "--backend", "scripted", "--model", str(script), "--autotelic"))
    _ok(batos("send", "genesis", "setSlot:value:", "balance", "21"))

    status = json.loads(_ok(batos("autotelic", "status", "--json")))
    assert status["enabled"] is True and status["running"] == 0
    assert status["settings"]["max_acts_per_hour"] == 4  # the documented default

    done = json.loads(_ok(batos("autotelic", "run-once", "--json")))
    act = done["acts"][0]
    assert (act["seq"], act["outcome"], act["selector"]) == (done["started"], "installed", "doubled_balance")
    assert "42" in _ok(batos("send", "genesis", "doubled_balance"))

    cem = json.loads(_ok(batos("cem", "--json")))
    assert 0.0 <= cem["value"] <= 1.0
    assert set(cem["components"]) == {"structural", "novelty", "diversity", "competence"}
    assert cem["acts"][0]["selector"] == "doubled_balance"
    shown = _ok(batos("cem"))
    assert "CEM " in shown and "doubled_balance" in shown and "installed" in shown

    assert "doubled_balance" in _ok(batos("history"))

    out = tmp_path / "dataset.jsonl"
    assert "wrote 1 record(s)" in _ok(batos("dataset", "export", "--out", str(out)))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1
    assert rows[0]["metadata"]["author"] == "autotelic"
    assert [m["role"] for m in rows[0]["messages"]] == ["system", "user", "assistant"]

    assert "autotelic off" in _ok(batos("autotelic", "off"))
    assert json.loads(_ok(batos("autotelic", "--json")))["enabled"] is False


def test_run_once_without_a_model_says_why(batos: Any) -> None:
    done = batos("autotelic", "run-once")  # BATOS_BACKEND=none in the test environment
    assert done.returncode == 1
    assert "no model backend" in done.stderr


def _recent(batos: Any) -> dict[str, float]:
    facts = json.loads(_ok(batos("cem", "--json")))["facts"]
    return {"messages": facts["messages"], "misses": facts["misses"]}


def test_a_miss_the_jit_fills_counts_as_a_miss(batos: Any, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["```python\ndef answer(self):\n    return 42\n```"]))
    _ok(batos("daemon", "start", "--backend", "scripted", "--model", str(script), "--candidates", "1"))
    assert "42" in _ok(batos("send", "genesis", "answer"))
    assert _recent(batos) == {"messages": 1.0, "misses": 1.0}


def test_a_miss_without_a_jit_counts_as_a_miss(batos: Any) -> None:
    _ok(batos("daemon", "start"))  # BATOS_BACKEND=none in the test environment: no miss hook
    done = batos("send", "genesis", "frobnicate")
    assert done.returncode != 0 and "frobnicate" in done.stderr, (done.stdout, done.stderr)
    assert _recent(batos) == {"messages": 1.0, "misses": 1.0}
