"""The live progress view and the history text for candidates (docs/jit.md, "Candidates")."""

from __future__ import annotations

import io
from typing import Any

from batos_cli.env import Environment
from batos_cli.progress import EventView
from batos_cli.render import candidates_text


def phase(**data: Any) -> dict[str, Any]:
    return {"type": "event", "id": "r1", "kind": "phase", "data": data}


def token(text: str) -> dict[str, Any]:
    return {"type": "event", "id": "r1", "kind": "token", "data": {"text": text}}


def test_the_view_shows_each_candidate_its_verdict_and_the_winner() -> None:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), width=100)
    with EventView(env) as view:
        view.on_event(phase(phase="generating", attempt=1, candidate=1, candidates=4))
        view.on_event(token("def double_(self, n):"))
        view.on_event(
            phase(phase="candidate", candidate=1, verdict="trial failed", reason="trial: KeyError: 'x'")
        )
        view.on_event(phase(phase="generating", attempt=1, candidate=2, candidates=4))
        view.on_event(token("def double_(self, n): return n * 2"))
        shown = view.body().plain
        assert "generating  candidate 2 of 4" in shown
        assert "candidate 1: trial failed: trial: KeyError: 'x'" in shown
        assert "return n * 2" in shown and "def double_(self, n):\n" not in shown  # only its own tokens
        view.on_event(phase(phase="candidate", candidate=2, verdict="passed", group=1, group_size=1))
        view.on_event(
            phase(phase="chosen", candidate=2, k=4, generated=4, groups=[1, 2], checks=3, checks_passed=3)
        )
        shown = view.body().plain
    assert "candidate 2: passed, group 1 (1 alike)" in shown
    assert "chose candidate 2 of 4 (groups 1+2, checks 3/3)" in shown
    assert "batos: chose candidate 2 of 4" in env.stderr.getvalue()  # stays after the live view


def test_a_repair_turn_is_named_as_one() -> None:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), width=100)
    with EventView(env) as view:
        view.on_event(phase(phase="generating", attempt=2, candidate=5, candidates=4))
        assert "repair 1 (candidate 5)" in view.body().plain


def test_history_text_of_a_candidates_record() -> None:
    record = {"k": 4, "generated": 3, "groups": [1, 2], "winner": 2, "checks": 0, "early_stop": True}
    assert candidates_text({"candidates": record}) == "#2/4 groups 1+2 early"
    record.update(checks=3, checks_passed=2, early_stop=False)
    assert candidates_text({"candidates": record}) == "#2/4 groups 1+2 checks 2/3"
    assert candidates_text({"candidates": [{"verdict": "vet failed"}] * 4}) == "4 failed"
    assert candidates_text({"author": "user"}) == ""


def test_the_cli_and_the_daemon_share_the_cap() -> None:
    import inspect

    from batos_cli.commands import daemon
    from batos_core.daemon_config import MAX_CANDIDATES

    assert f"max={MAX_CANDIDATES}" in inspect.getsource(daemon.start)
