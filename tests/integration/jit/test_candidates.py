"""Candidates chosen by behaviour: the pipeline in-process on a memory image, with real trials.

The scripted model answers in order, so each test knows exactly which reply
is which candidate (and, after the round, the checks), and a reply too many
would fail with ScriptExhausted: the tests prove how often the model was asked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from jit_helpers import fenced

from batos_core.daemon_config import parse_candidates
from batos_core.image import Image, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.jit.backends.scripted import ScriptedBackend
from batos_core.jit.candidates import (
    SAMPLE_TEMPERATURE,
    check_selector,
    check_sources,
)
from batos_core.jit.pipeline import SEED_OFFSET_ENV, GenerationFailed, JitCompiler, JitSettings, Outcome
from batos_core.methods.changelog import change_log
from batos_core.objects import SlotNotFound, format_oid, get_slot, set_slot

RIGHT = "def double_(self, n):\n    return n * 2\n"
ALSO_RIGHT = "def double_(self, n):\n    return n + n\n"
WRONG = "def double_(self, n):\n    return n * 3\n"
SQUARE = "def double_(self, n):\n    return n * n\n"
RAISES = "def double_(self, n):\n    return n / self.missing\n"
SELF = "def double_(self, n):\n    return self\n"


@dataclass
class Run:
    """One compile: the backend (its calls), the events, the outcome or the failure."""

    backend: ScriptedBackend
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    outcome: Outcome | None = None
    failure: GenerationFailed | None = None
    records: list[Any] = field(default_factory=list)
    installed: str = ""

    def phases(self, name: str) -> list[dict[str, Any]]:
        return [data for kind, data in self.events if kind == "phase" and data.get("phase") == name]


@pytest.fixture
def image() -> Iterator[Image]:
    opened = open_image("memory://", migrations=MIGRATIONS)
    yield opened
    opened.close()


def compile_miss(
    image: Image,
    replies: Sequence[str],
    *,
    selector: str = "double_",
    args: Sequence[Any] = (4,),
    candidates: int = 4,
    attempts: int = 3,
    slots: dict[str, Any] | None = None,
) -> Run:
    run = Run(ScriptedBackend([fenced(r) if r.startswith("def ") else r for r in replies]))
    compiler = JitCompiler(run.backend, JitSettings(candidates=candidates, attempts=attempts))
    with image.session() as session:
        genesis = session.lobby.genesis
        for name, value in (slots or {}).items():
            set_slot(genesis, name, value)
        session.commit()
        miss = SlotNotFound(format_oid(genesis), selector, arguments=list(args))
        try:
            run.outcome = compiler.compile(session, miss, lambda kind, data: run.events.append((kind, data)))
        except GenerationFailed as failed:
            run.failure = failed
        session.abort()
        run.records = list(change_log(session.root))
        method = get_slot(session.lobby.genesis, selector) if run.outcome else None
        run.installed = method.source if method is not None else ""
    return run


def test_candidates_that_disagree_install_the_majority(image: Image) -> None:
    run = compile_miss(image, [WRONG, RIGHT, ALSO_RIGHT, RIGHT])
    assert run.installed == RIGHT  # 8 is what three of four did; the earliest of them wins
    provenance = run.records[-1].provenance["candidates"]
    assert provenance["k"] == 4 and provenance["groups"] == [1, 3] and provenance["winner"] == 2
    assert provenance["seed"] == 1 and provenance["temperature"] == SAMPLE_TEMPERATURE
    # The majority came with the last candidate: no checks were asked for (a fifth call would fail).
    assert len(run.backend.calls) == 4 and provenance["early_stop"] is False and provenance["checks"] == 0


def test_a_majority_stops_the_round_early(image: Image) -> None:
    run = compile_miss(image, [RIGHT, ALSO_RIGHT, RIGHT])  # a fourth call would raise ScriptExhausted
    assert run.outcome is not None and run.installed == RIGHT
    assert len(run.backend.calls) == 3
    assert [c.temperature for c in run.backend.calls] == [0.0, SAMPLE_TEMPERATURE, SAMPLE_TEMPERATURE]
    provenance = run.records[-1].provenance["candidates"]
    assert provenance["early_stop"] is True and provenance["generated"] == 3 and provenance["checks"] == 0


def test_a_candidate_that_raises_is_not_counted(image: Image) -> None:
    run = compile_miss(image, [RAISES, RIGHT, RAISES, RIGHT])  # one group: no checks asked for
    assert run.installed == RIGHT
    verdicts = [(d["candidate"], d["verdict"]) for d in run.phases("candidate")]
    assert verdicts == [(1, "trial failed"), (2, "passed"), (3, "trial failed"), (4, "passed")]
    assert "the receiver has no slot named missing" in run.phases("candidate")[0]["reason"]
    assert run.records[-1].provenance["candidates"]["groups"] == [2]


def test_all_candidates_failing_leads_to_a_repair_turn(image: Image) -> None:
    run = compile_miss(image, [RAISES, WRONG.replace("return", "retur"), RAISES, RAISES, RIGHT])
    assert run.installed == RIGHT
    assert len(run.backend.calls) == 5
    repair = run.backend.calls[4]
    assert repair.temperature > 0 and "That method failed" in repair.messages[-1]["content"]
    # The repair starts from a candidate that reached its trial (it got furthest).
    assert "no slot named missing" in repair.messages[-1]["content"]
    assert run.records[-1].provenance["attempts"] == 2
    assert run.records[-1].provenance["candidates"]["winner"] == 5


def test_a_seed_offset_moves_every_sampled_seed_but_not_the_greedy_first(
    image: Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SEED_OFFSET_ENV, "100")
    run = compile_miss(image, [RAISES, RAISES, RAISES, RAISES, RIGHT])  # a round fails, the repair passes
    assert run.installed == RIGHT
    assert [call.seed for call in run.backend.calls] == [None, 101, 102, 103, 105]
    monkeypatch.setenv(SEED_OFFSET_ENV, "-3")  # not an offset: ignored (logged)
    run = compile_miss(image, [RAISES, RAISES, RAISES, RAISES, RIGHT])
    assert [call.seed for call in run.backend.calls] == [None, 1, 2, 3, 5]


def test_a_tie_goes_to_the_earlier_candidate_deterministically(image: Image) -> None:
    replies = [WRONG, RIGHT, WRONG, RIGHT, "no checks in this reply"]
    first = compile_miss(image, replies)
    assert first.installed == WRONG
    assert first.records[-1].provenance["candidates"]["groups"] == [2, 2]
    fresh = open_image("memory://", migrations=MIGRATIONS)
    try:
        assert compile_miss(fresh, replies).installed == WRONG
    finally:
        fresh.close()


def test_checks_beat_a_plain_majority(image: Image) -> None:
    checks = "```python\nassert result == 8\nassert result == 2 * n\nassert isinstance(result, int)\n```"
    run = compile_miss(image, [SQUARE, SQUARE, RIGHT, WRONG, checks])
    assert run.outcome is not None and run.outcome.choice is not None
    assert run.installed == RIGHT  # 1 x 3 checks beats 2 x 1 (squares pass only the isinstance check)
    assert run.outcome.choice.majority.index == 1  # a plain majority would have installed the square
    provenance = run.records[-1].provenance["candidates"]
    assert provenance["checks"] == 3 and provenance["checks_passed"] == 3 and provenance["score"] == 3
    assert provenance["majority"] == 1 and provenance["majority_source"] == SQUARE
    # The checks' expected values never reached a method prompt.
    for generation in run.backend.calls[:4]:
        assert "result == 8" not in str(generation.messages)


def test_a_candidate_that_does_nothing_ranks_below_one_that_did_something(image: Image) -> None:
    run = compile_miss(image, [SELF, SELF, RIGHT, SELF])
    assert run.installed == RIGHT
    assert [d["verdict"] for d in run.phases("candidate")] == [
        "did nothing",
        "did nothing",
        "passed",
        "did nothing",
    ]


def test_when_every_candidate_does_nothing_the_repair_says_so(image: Image) -> None:
    run = compile_miss(image, [SELF, SELF, SELF, SELF, SELF], attempts=2)
    assert run.failure is not None and "DidNothing" in run.failure.reason
    assert "changed no slot" in run.backend.calls[4].messages[-1]["content"]
    record = run.records[-1]
    assert record.action == "reject"
    assert [c["verdict"] for c in record.provenance["candidates"]] == ["did nothing"] * 5


def test_slot_changes_are_behaviour(image: Image) -> None:
    add = "def deposit_(self, n):\n    self.balance = self.balance + n\n    return self\n"
    add_twice = "def deposit_(self, n):\n    self.balance = self.balance + 2 * n\n    return self\n"
    run = compile_miss(
        image, [add_twice, add, add, add], selector="deposit_", args=(5,), slots={"balance": 10}
    )
    assert run.installed == add
    assert run.records[-1].provenance["candidates"]["groups"] == [1, 3]


def test_one_candidate_is_the_old_behaviour(image: Image) -> None:
    run = compile_miss(image, [RIGHT], candidates=1)
    assert run.installed == RIGHT and len(run.backend.calls) == 1
    assert run.records[-1].provenance["candidates"] == {
        "k": 1,
        "generated": 1,
        "groups": [1],
        "winner": 1,
        "seed": None,
        "temperature": 0.0,
        "checks": 0,
        "checks_passed": 0,
        "score": 1,
        "early_stop": False,
        "majority": 1,
    }


def test_the_progress_events_name_each_candidate_and_the_winner(image: Image) -> None:
    run = compile_miss(image, [WRONG, RIGHT, RIGHT, RIGHT])
    generating = run.phases("generating")
    assert [(d["candidate"], d["candidates"]) for d in generating] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    groups = [d.get("group") for d in run.phases("candidate")]
    assert groups == [1, 2, 2, 2]
    [chosen] = run.phases("chosen")
    assert chosen["candidate"] == 2 and chosen["groups"] == [1, 3]


def test_checks_are_vetted_and_each_assert_is_one_check() -> None:
    reply = (
        "```python\nassert result == 8\nassert open('x')\nassert result ==\n"
        "assert self._p_changed\nassert result > 0\nassert result == 8\n```"
    )
    sources = check_sources(reply, 1, ["n"])
    assert [s.splitlines()[1].strip() for s in sources] == ["assert result == 8", "assert result > 0"]
    assert sources[0].startswith(f"def {check_selector(1)}(self, result, n):")


@pytest.mark.parametrize("raw", ["0", "17", "-1", "four"])
def test_candidate_counts_outside_1_to_16_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="1 to 16"):
        parse_candidates(raw)
    assert parse_candidates("16") == 16


@pytest.mark.slow
def test_display_yourself_takes_a_second_candidate_when_the_first_shows_no_state(image: Image) -> None:
    import importlib.util

    if importlib.util.find_spec("kivy") is None:
        pytest.skip("kivy is not installed")
    from tests.gui.ui_sources import GOOD_UI

    # The label the model's UI once showed, whatever the state said:
    blind = GOOD_UI.replace("self.status.text = ", "self.status.text = 'Status not available' or ", 1)
    assert blind != GOOD_UI
    run = compile_miss(image, [blind, GOOD_UI], selector="display_yourself", args=())
    assert run.installed == GOOD_UI, run.phases("candidate")
    first, second = run.phases("candidate")
    assert first["verdict"] == "trial failed" and "no widget shows it" in first["reason"]
    assert "'Status not available'" in first["reason"]
    assert second["verdict"] == "passed"
    assert len(run.backend.calls) == 2  # K = 2 for the UI: the second candidate, not a repair turn
    assert run.backend.calls[1].temperature == SAMPLE_TEMPERATURE
