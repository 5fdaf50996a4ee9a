"""The heartbeat in a real daemon with an injected clock and a scripted model.

Each test starts a daemon in this process (see live.py), talks to it over the
signed protocol, and moves its clock by hand.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from autotelic_live import LiveDaemon, SlowScriptedBackend, start_live

from batos_core.autotelic.dataset import DatasetWriter
from batos_core.jit.backends.scripted import ScriptedBackend
from batos_core.protocol.builders import (
    autotelic_request,
    cem_request,
    dataset_request,
    history_request,
)

PROPOSAL = (
    "selector: doubled_balance\n"
    "intent: return twice the balance\n"
    "check: self.doubled_balance() == 2 * self.balance"
)
DOUBLED = "```python\ndef doubled_balance(self):\n    return 2 * self.balance\n```"
WRONG = "```python\ndef doubled_balance(self):\n    return self.balance + 1\n```"


@pytest.fixture
def live(batos_dirs: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[LiveDaemon]]:
    """Started daemons, stopped at teardown (`start_live` appends here)."""
    monkeypatch.setenv("BATOS_CONFIG", str(batos_dirs.root / "batos.toml"))
    started: list[LiveDaemon] = []
    yield started
    for daemon in started:
        daemon.stop()


def _start(live: list[LiveDaemon], dirs: Any, backend: ScriptedBackend, **settings: Any) -> LiveDaemon:
    settings.setdefault("threshold", 0.99)  # a fresh image's CEM is "low" against this
    daemon = start_live(dirs, backend, **settings)
    live.append(daemon)
    assert daemon.send("genesis", "setSlot:value:", "balance", 21)["type"] == "send_reply"
    return daemon


def test_no_act_while_requests_keep_arriving(live: list[LiveDaemon], batos_dirs: Any) -> None:
    daemon = _start(live, batos_dirs, ScriptedBackend([PROPOSAL, DOUBLED]))
    for _ in range(5):
        daemon.clock.advance(60.0)  # less than idle_s (100) between requests
        assert daemon.send("genesis", "balance")["result"] == 21
        daemon.ticks_pass()
    assert daemon.acts() == []
    assert daemon.backend.calls == []
    reading = daemon.request(cem_request())
    assert reading["value"] < 0.99 and len(reading["trend"]) >= 5


def test_an_act_after_the_idle_time_when_the_cem_is_low(live: list[LiveDaemon], batos_dirs: Any) -> None:
    daemon = _start(live, batos_dirs, ScriptedBackend([PROPOSAL, DOUBLED]))
    daemon.ticks_pass()
    assert daemon.acts() == []
    daemon.clock.advance(101.0)
    daemon.ticks_pass()
    act = daemon.wait_act_done()
    assert act["outcome"] == "installed", act
    assert (act["selector"], act["receiver_name"], act["version"]) == ("doubled_balance", "genesis", 1)
    assert act["tokens"] > 0 and act["trigger"].startswith("idle; CEM")
    assert 0.0 <= act["cem_before"] <= 1.0 and 0.0 <= act["cem_after"] <= 1.0
    assert daemon.send("genesis", "doubled_balance")["result"] == 42
    # The intent reached the method prompt; the act shows in history and in cem.
    method_prompt = daemon.backend.calls[1].messages[-1]["content"]
    assert "return twice the balance" in method_prompt
    entries = daemon.request(history_request(selector="doubled_balance"))["entries"]
    assert entries[0]["action"] == "install" and entries[0]["provenance"]["author"] == "autotelic"
    assert entries[0]["provenance"]["act"] == act["seq"]
    shown = daemon.request(cem_request())
    assert shown["acts"][0]["seq"] == act["seq"]
    assert shown["facts"]["installs_seen"] >= 1


def test_budgets_stop_further_acts(live: list[LiveDaemon], batos_dirs: Any) -> None:
    backend = ScriptedBackend([PROPOSAL, DOUBLED])
    daemon = _start(live, batos_dirs, backend, max_acts_per_hour=1)
    daemon.clock.advance(101.0)
    daemon.ticks_pass()
    assert daemon.wait_act_done()["outcome"] == "installed"
    backend.push(PROPOSAL.replace("doubled_balance", "tripled_balance"))
    for _ in range(3):
        daemon.clock.advance(101.0)  # idle again, well within the hour
        daemon.ticks_pass()
    assert len(daemon.acts()) == 1
    status = daemon.request(autotelic_request("status"))
    assert "act budget spent" in status["message"]
    refused = daemon.request(autotelic_request("run_once"))
    assert refused["started"] == 0 and "act budget spent" in refused["message"]
    daemon.clock.advance(3600.0)  # a new hour: the act budget is back
    daemon.service.config.max_tokens_per_day = 1  # ...but today's tokens are spent
    refused = daemon.request(autotelic_request("run_once"))
    assert refused["started"] == 0 and "token budget spent" in refused["message"]


def test_a_user_request_during_an_act_is_served_within_a_second(
    live: list[LiveDaemon], batos_dirs: Any
) -> None:
    long_proposal = PROPOSAL + "\n" + " ".join(["more"] * 400)  # about 20 s of slow streaming
    backend = SlowScriptedBackend([long_proposal], delay=0.05)
    daemon = _start(live, batos_dirs, backend)
    daemon.clock.advance(101.0)
    daemon.ticks_pass()
    daemon.wait_for(lambda: daemon.service.running != 0 and bool(backend.calls), what="the act to generate")
    started = time.perf_counter()
    assert daemon.send("genesis", "balance")["result"] == 21
    served = time.perf_counter() - started
    assert served < 1.0, served
    act = daemon.wait_act_done(timeout=10.0)
    assert act["outcome"] == "cancelled", act
    assert act["seconds"] < 10.0
    history = daemon.request(history_request())["entries"]
    assert history[0]["action"] == "reject" and history[0]["provenance"]["act"] == act["seq"]


def test_off_stops_a_running_act_at_once(live: list[LiveDaemon], batos_dirs: Any) -> None:
    backend = SlowScriptedBackend([PROPOSAL + " " + " ".join(["more"] * 400)], delay=0.05)
    daemon = _start(live, batos_dirs, backend)
    reply = daemon.request(autotelic_request("run_once"))
    assert reply["started"] == 1
    daemon.wait_for(lambda: bool(backend.calls), what="generation")
    off = daemon.request(autotelic_request("off"))
    assert off["enabled"] is False
    assert daemon.wait_act_done(timeout=5.0)["outcome"] == "cancelled"


def test_a_failing_check_installs_nothing_and_is_recorded_rejected(
    live: list[LiveDaemon], batos_dirs: Any
) -> None:
    daemon = _start(live, batos_dirs, ScriptedBackend([PROPOSAL, WRONG, WRONG]), attempts=2)
    daemon.clock.advance(101.0)
    daemon.ticks_pass()
    act = daemon.wait_act_done()
    assert act["outcome"] == "rejected", act
    assert "CheckFailed" in act["reason"]
    assert daemon.send("genesis", "respondsTo:", "doubled_balance")["result"] is False
    entries = daemon.request(history_request(selector="doubled_balance"))["entries"]
    assert [e["action"] for e in entries] == ["reject"]
    assert entries[0]["provenance"]["author"] == "autotelic"


def test_a_bad_proposal_is_a_failed_act_in_history(live: list[LiveDaemon], batos_dirs: Any) -> None:
    backend = ScriptedBackend(["selector: balance\nintent: x\ncheck: self.balance()"] * 3)  # three tries
    daemon = _start(live, batos_dirs, backend)
    assert daemon.request(autotelic_request("run_once"))["started"] == 1
    act = daemon.wait_act_done()
    assert act["outcome"] == "failed" and "already understands balance" in act["reason"]
    assert "last reply" in act["reason"] and len(backend.calls) == 3
    assert [c.temperature for c in backend.calls] == [0.0, 0.8, 0.8]  # greedy, then sampled
    assert daemon.request(history_request())["entries"][0]["selector"] == "(proposal)"


def test_dataset_export_reads_back_one_record_per_accepted_generation(
    live: list[LiveDaemon], batos_dirs: Any, tmp_path: Path
) -> None:
    # Two accepted generations (an act and a user's miss) and one rejected act.
    halved = "```python\ndef halved(self):\n    return self.balance / 2\n```"
    backend = ScriptedBackend([PROPOSAL, DOUBLED, halved])
    daemon = _start(live, batos_dirs, backend)
    assert daemon.request(autotelic_request("run_once"))["started"] == 1
    assert daemon.wait_act_done()["outcome"] == "installed"
    assert daemon.send("genesis", "halved")["result"] == 10.5
    for _ in range(3):
        backend.push("selector: x\nintent: y\ncheck: 1")
    assert daemon.request(autotelic_request("run_once"))["started"] == 2
    assert daemon.wait_act_done()["outcome"] == "failed"
    out = tmp_path / "dataset.jsonl"
    after = 0
    with out.open("w") as fh:
        writer = DatasetWriter(fh)
        while True:
            page = daemon.request(dataset_request(after, limit=1))
            for record in page["records"]:
                writer.add(record)
            after = page["next_seq"]
            if page["done"]:
                break
    rows = _load_jsonl(out)
    assert [r["metadata"]["selector"] for r in rows] == ["doubled_balance", "halved"]
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert row["messages"][-1]["content"].startswith("```python\ndef ")
    assert "return 2 * self.balance" in rows[0]["messages"][-1]["content"]


def _load_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows as Hugging Face datasets reads them, or by a plain parse per line without it."""
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError:
        return [json.loads(line) for line in path.read_text().splitlines()]
    return list(datasets.load_dataset("json", data_files=str(path), split="train"))


def test_no_acts_while_generated_methods_need_review(live: list[LiveDaemon], batos_dirs: Any) -> None:
    daemon = _start(live, batos_dirs, ScriptedBackend([PROPOSAL, DOUBLED]))
    assert daemon.service.compiler is not None
    daemon.service.compiler.settings.review = True
    refused = daemon.request(autotelic_request("run_once"))
    assert refused["started"] == 0 and "review is on" in refused["message"]
    assert daemon.backend.calls == []
