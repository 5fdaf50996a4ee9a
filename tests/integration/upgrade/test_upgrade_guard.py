"""The replay guard's state survives a hand-over: no pause for fresh envelopes, no replays."""

from __future__ import annotations

import pytest

from batos_core.protocol.errors import Replayed, Stale
from batos_core.protocol.replay import ReplayGuard
from batos_core.protocol.signing import Envelope

S1, S2 = "a" * 32, "b" * 32


def test_a_continued_guard_refuses_what_the_old_one_accepted() -> None:
    now = [1_000 * 10**9]
    old = ReplayGuard(skew_ns=0, clock=lambda: now[0])
    old.check(Envelope(S1, 5, now[0] + 1))
    state = old.export_state()
    now[0] += 10**9
    new = ReplayGuard.from_state(state, skew_ns=0, clock=lambda: now[0])
    with pytest.raises(Replayed):
        new.check(Envelope(S1, 5, now[0]))
    new.check(Envelope(S1, 6, now[0] - 500))  # signed during the hand-over: accepted at once
    new.check(Envelope(S2, 1, state["start_ns"] + 1))  # a session the old one never saw
    with pytest.raises(Stale):
        new.check(Envelope("c" * 32, 1, state["start_ns"] - 1))  # signed before the old daemon started


def test_a_fresh_guard_would_have_refused_the_hand_over_envelope() -> None:
    """Why the state is handed over: a new guard drops what was signed before it started."""
    fresh = ReplayGuard(skew_ns=0, start_ns=2_000)
    with pytest.raises(Stale):
        fresh.check(Envelope(S1, 1, 1_999))


def test_garbage_state_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        ReplayGuard.from_state({"start_ns": "x", "floor_ns": 0, "sessions": []})
    with pytest.raises(ValueError):
        ReplayGuard.from_state({"sessions": []})
