"""Proposal parsing, the activity ring, budgets, act records, settings and the dataset record."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from batos_core.autotelic.activity import ActivityTracker
from batos_core.autotelic.budget import budget_status
from batos_core.autotelic.config import AutotelicConfig, apply_values, load_autotelic_config
from batos_core.autotelic.dataset import DatasetWriter, dataset_record, export_dataset
from batos_core.autotelic.heartbeat import stagnation
from batos_core.autotelic.proposal import ProposalError, parse_proposal, proposal_messages
from batos_core.autotelic.state import autotelic_state
from batos_core.image import Session
from batos_core.jit.misses import MissEvents, MissNoticed
from batos_core.jit.snapshot import ReceiverSnapshot

GOOD = "selector: doubled\nintent: return twice the balance\ncheck: self.doubled() == 2 * self.balance"


def test_a_proposal_is_parsed_and_its_check_vetted() -> None:
    proposal = parse_proposal("Sure!\n```\n" + GOOD + "\n```")
    assert (proposal.selector, proposal.intent) == ("doubled", "return twice the balance")
    assert proposal.check_source.startswith("def check(self):")
    assert "self.doubled() == 2 * self.balance" in proposal.check_source


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("selector: doubled\nintent: x", "lacks check"),
        (GOOD.replace("self.doubled()", "self.other()"), "does not call self.doubled"),
        (GOOD.replace("== 2 * self.balance", "and self._p_changed"), "refused"),
        (GOOD.replace("== 2 *", "== 2 *("), "not one Python expression"),
        (GOOD.replace("selector: doubled", "selector: double:"), "without arguments"),
        (GOOD.replace("selector: doubled", "selector: _secret"), "without arguments"),
        (GOOD.replace("== 2 * self.balance", "== eval('2')"), "refused"),
        (GOOD.replace("self.doubled()", "self.doubled(2)"), "takes none"),
    ],
)
def test_unusable_proposals_say_why(text: str, reason: str) -> None:
    with pytest.raises(ProposalError, match=reason):
        parse_proposal(text)


def test_a_proposal_of_an_existing_selector_is_refused() -> None:
    with pytest.raises(ProposalError, match="already understands doubled"):
        parse_proposal(GOOD, existing={"doubled"})


def test_the_proposal_prompt_lists_slots_and_methods_without_code() -> None:
    messages = proposal_messages(ReceiverSnapshot("account", {"balance": 10}, {}, {"clone": ""}))
    user = messages[-1]["content"]
    assert "balance: a int, now 10" in user and "clone" in user
    assert "def " not in messages[0]["content"]


def test_activity_ring_components_and_idleness() -> None:
    now = [100.0]
    activity = ActivityTracker(lambda: now[0], size=4)
    assert activity.on_request("cem_request", "m1") is False  # monitoring is not activity
    now[0] = 150.0
    assert activity.idle_for() == 50.0
    for i, selector in enumerate(["a", "b", "c", "d", "e"]):
        assert activity.on_request("send_request", f"r{i}", selector)
    assert activity.idle_for() == 0.0
    activity.on_request("eval_request", "r9")
    activity.on_miss(MissNoticed("r9", "frob", "0x1"))
    activity.on_miss(MissNoticed("r0", "a", "0x1"))  # fell out of the ring: ignored
    diversity, competence, facts = activity.components()
    assert facts == {"messages": 4.0, "misses": 1.0}
    assert competence == pytest.approx(0.75)
    assert diversity == pytest.approx(1.0)  # c, d, e, frob: all different


def test_the_activity_hears_of_misses_as_a_subscriber_until_it_unsubscribes() -> None:
    activity = ActivityTracker(lambda: 0.0)
    activity.on_request("send_request", "r1", "x")
    activity.on_request("send_request", "r2", "y")
    events = MissEvents()
    heard: list[MissNoticed] = []

    def broken(miss: MissNoticed) -> None:
        raise RuntimeError("an observer's bug")

    events.subscribe(broken)  # logged; the others are still told
    unsubscribe = events.subscribe(activity.on_miss)
    events.subscribe(heard.append)
    events.notify(MissNoticed("r1", "x", "0x1"))
    assert activity.components()[2]["misses"] == 1.0
    unsubscribe()
    events.notify(MissNoticed("r2", "y", "0x1"))
    assert activity.components()[2]["misses"] == 1.0
    assert [miss.request_id for miss in heard] == ["r1", "r2"]


def test_budgets_count_acts_per_hour_and_tokens_per_day() -> None:
    now = 100_000.0
    acts = [
        {"started": now - 10, "tokens": 100},
        {"started": now - 3000, "tokens": 50},
        {"started": now - 7200, "tokens": 400},  # outside the hour, inside the day
        {"started": now - 90_000, "tokens": 10_000},  # outside the day: iteration stops
    ]
    status = budget_status(acts, now, max_acts_per_hour=2, max_tokens_per_day=1000)
    assert (status.acts_last_hour, status.tokens_last_day) == (2, 550)
    assert "act budget spent" in status.exhausted
    assert budget_status(acts, now, 3, 550).exhausted.startswith("token budget spent")
    assert budget_status(acts, now, 3, 551).exhausted == ""


def test_stagnation_by_threshold_and_by_fall() -> None:
    config = AutotelicConfig(threshold=0.5, window_s=100.0, fall_delta=0.05)
    assert stagnation([], config) == ""
    assert "below the threshold" in stagnation([(0.0, 0.4)], config)
    assert stagnation([(0.0, 0.8), (50.0, 0.78)], config) == ""
    assert "fell from 0.800" in stagnation([(0.0, 0.8), (50.0, 0.7)], config)
    assert stagnation([(0.0, 0.9), (200.0, 0.8), (250.0, 0.78)], config) == ""  # the fall is older


def test_act_records_begin_finish_and_interrupted(session: Session) -> None:
    state = autotelic_state(session.root)
    first = state.begin({"started": 10.0, "trigger": "test"})
    state.finish(first, "installed", selector="x", tokens=5)
    second = state.begin({"started": 20.0})
    assert state.mark_interrupted(30.0) == 1
    session.commit()
    records = list(state.newest_first())
    assert [(r["seq"], r["outcome"]) for r in records] == [(second, "interrupted"), (first, "installed")]
    assert records[1]["tokens"] == 5
    assert [r["seq"] for r in state.since(15.0)] == [second]
    with pytest.raises(ValueError):
        state.finish(first, "exploded")


def test_settings_from_toml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "batos.toml"
    toml.write_text(
        "autotelic = true\nautotelic_idle_s = 30\nautotelic_weights = {structural = 2.0}\n"
        "autotelic_max_acts_per_hour = 9\n"
    )
    monkeypatch.setenv("BATOS_AUTOTELIC_THRESHOLD", "0.3")
    monkeypatch.setenv("BATOS_AUTOTELIC_WEIGHTS", "novelty=0.5")
    config = load_autotelic_config([toml])
    assert (config.idle_s, config.threshold, config.max_acts_per_hour) == (30.0, 0.3, 9)
    assert config.weights == {"structural": 2.0, "novelty": 0.5, "diversity": 0.25, "competence": 0.25}
    monkeypatch.setenv("BATOS_AUTOTELIC_IDLE_S", "soon")
    with pytest.raises(ValueError, match="idle_s"):
        load_autotelic_config([toml])
    with pytest.raises(ValueError, match="unknown autotelic weight"):
        bad = AutotelicConfig()
        apply_values(bad, {"weights": {"beauty": 1.0}}, "test")
        bad.validate()


def _change(seq: int, source: str, prompt: object, action: str = "install") -> dict[str, object]:
    return {
        "seq": seq,
        "action": action,
        "time": 1.0,
        "target": "0x3",
        "target_name": "genesis",
        "selector": "f",
        "version": 1,
        "source": source,
        "provenance": {"author": "llm", "model": "m", "prompt": prompt, "attempts": 1},
    }


def test_dataset_records_and_deduplication(tmp_path: Path) -> None:
    prompt = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    changes = [
        _change(1, "def f(self):\n    return 1\n", prompt),
        _change(2, "def f(self):\n    return 1\n", prompt),  # the same generation again
        _change(3, "def f(self):\n    return 2\n", prompt, action="reject"),
        _change(4, "def f(self):\n    return 3\n", None),  # no prompt: installed by hand
        _change(5, "def f(self):\n    return 4\n", [{"role": "robot", "content": "?"}]),
        _change(6, "def f(self):\n    return 5\n", prompt),
    ]
    record = dataset_record(changes[0])
    assert record is not None
    assert record["messages"][-1] == {
        "role": "assistant",
        "content": "```python\ndef f(self):\n    return 1\n```",
    }
    assert record["metadata"]["seq"] == 1 and record["metadata"]["model"] == "m"
    assert [dataset_record(c) is None for c in changes] == [False, False, True, True, True, False]
    path = tmp_path / "d.jsonl"
    assert export_dataset(changes, path) == (2, 1)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["metadata"]["seq"] for r in rows] == [1, 6]
    writer = DatasetWriter(io.StringIO())
    assert writer.add(rows[0]) and not writer.add(rows[0])


def test_a_bare_call_of_the_new_selector_is_read_as_a_call_on_self() -> None:
    proposal = parse_proposal("selector: area\nintent: the area\ncheck: area() == self.width * self.height")
    assert "self.area() == self.width * self.height" in proposal.check_source
