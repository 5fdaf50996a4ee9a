"""The CEM's formula on hand-built inputs whose entropy is known."""

from __future__ import annotations

import math

import pytest

from batos_core.autotelic.cem import (
    ast_histogram,
    combine,
    competence,
    cosine,
    entropy_from_sums,
    normalized_entropy,
    novelty,
    selector_diversity,
    xlogx,
)
from batos_core.autotelic.config import COMPONENTS
from batos_core.autotelic.summary import ImageSummary


def test_uniform_counts_have_entropy_one() -> None:
    assert normalized_entropy([3, 3, 3, 3]) == pytest.approx(1.0)


def test_all_slots_on_one_object_have_entropy_zero() -> None:
    assert normalized_entropy([12, 0, 0, 0]) == pytest.approx(0.0)


def test_a_known_skewed_distribution() -> None:
    # p = (1/2, 1/4, 1/4): H = 1.5 ln 2; normalized by ln 3.
    expected = 1.5 * math.log(2) / math.log(3)
    assert normalized_entropy([2, 1, 1]) == pytest.approx(expected)
    assert expected == pytest.approx(0.9464, abs=1e-4)


def test_ordering_uniform_above_skewed_above_concentrated() -> None:
    uniform = normalized_entropy([4, 4, 4, 4])
    skewed = normalized_entropy([10, 2, 2, 2])
    concentrated = normalized_entropy([16, 0, 0, 0])
    assert uniform > skewed > concentrated


def test_sums_give_the_same_value_as_the_counts() -> None:
    counts = [5, 1, 0, 7, 2]
    assert entropy_from_sums(sum(counts), sum(xlogx(c) for c in counts), len(counts)) == pytest.approx(
        normalized_entropy(counts)
    )


def test_nothing_to_spread_is_zero() -> None:
    assert normalized_entropy([]) == 0.0
    assert normalized_entropy([5]) == 0.0
    assert normalized_entropy([0, 0]) == 0.0


def test_selector_diversity() -> None:
    assert selector_diversity(["a", "b", "c", "d"]) == pytest.approx(1.0)
    assert selector_diversity(["a"] * 10) == pytest.approx(0.0)
    # two selectors, equally often, over 4 messages: ln 2 / ln 4
    assert selector_diversity(["a", "b", "a", "b"]) == pytest.approx(0.5)


def test_competence() -> None:
    assert competence(0, 0) == 1.0
    assert competence(10, 3) == pytest.approx(0.7)
    assert competence(4, 4) == 0.0


def test_novelty_by_ast_histograms() -> None:
    add = ast_histogram("def f(self, a):\n    return a + 1\n")
    same_shape = ast_histogram("def g(self, b):\n    return b + 2\n")
    loop = ast_histogram(
        "def h(self, xs):\n    total = []\n    for x in xs:\n        if x:\n            total.append(x)\n"
        "    return sorted(total)\n"
    )
    assert cosine(add, same_shape) == pytest.approx(1.0)
    assert novelty(same_shape, [add]) == pytest.approx(0.0)
    assert 0.0 < novelty(loop, [add]) < 1.0
    assert novelty(loop, []) == 1.0
    assert ast_histogram("def broken(:") == {}


def test_combine_is_a_weighted_mean_in_unit_interval() -> None:
    components = {"structural": 1.0, "novelty": 0.0, "diversity": 0.5, "competence": 1.0}
    reading = combine(components, dict.fromkeys(COMPONENTS, 0.25), now=5.0)
    assert reading.value == pytest.approx(0.625)
    weighted = combine(
        components, {"structural": 3.0, "novelty": 1.0, "diversity": 0.0, "competence": 0.0}, 0.0
    )
    assert weighted.value == pytest.approx(0.75)
    clamped = combine({**components, "novelty": 7.0}, dict.fromkeys(COMPONENTS, 1.0), 0.0)
    assert 0.0 <= clamped.value <= 1.0
    with pytest.raises(ValueError):
        combine(components, dict.fromkeys(COMPONENTS, 0.0), 0.0)


def test_summary_updates_by_difference_match_a_recount() -> None:
    summary = ImageSummary()
    for oid, (slots, methods) in enumerate([(3, 1), (3, 1), (3, 1), (3, 1)]):
        summary.set_object(oid, slots, methods)
    assert summary.structural_entropy() == pytest.approx(1.0)
    summary.set_object(0, 12, 4)  # skew it
    summary.set_object(1, 0, 0)
    fresh = ImageSummary()
    for oid, counts in summary.counts.items():
        fresh.set_object(oid, *counts)
    assert summary.structural_entropy() == pytest.approx(fresh.structural_entropy())
    assert summary.structural_entropy() < 1.0
    summary.drop_object(0)
    assert summary.objects == 3 and summary.slots == 6


def test_summary_novelty_of_installs() -> None:
    summary = ImageSummary(recent_installs=2)
    summary.know_method("def f(self):\n    return 1\n")
    assert summary.record_install("def f(self):\n    return 1\n") == 0.0  # known source
    assert summary.record_install("def g(self):\n    return 2\n") == pytest.approx(0.0)  # same shape
    loop = "def h(self, xs):\n    for x in xs:\n        if x:\n            return x\n    return None\n"
    loop_novelty = summary.record_install(loop)
    assert loop_novelty > 0.1
    assert summary.installs_seen == 2  # only the last two count: g (0.0) and h
    assert summary.solution_novelty() == pytest.approx(loop_novelty / 2)
