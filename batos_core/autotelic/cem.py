"""The Composite Entropy Metric (CEM): its formula over plain numbers.

    CEM = sum_c w_c * x_c / sum_c w_c,   every x_c in [0, 1], so CEM is in [0, 1]

with four components (``docs/autotelic.md`` has the full definitions):

* structural: ½·Ĥ(slots per object) + ½·Ĥ(methods per object), where
  Ĥ(n_1..n_N) = H(p)/ln N with p_i = n_i/Σn (normalized Shannon entropy of
  how slots, and method slots, are spread over the N objects);
* novelty: mean over the last K installed methods of 1 - max cosine
  similarity between the method's AST-node histogram and those of every
  method that existed before it;
* diversity: H(selectors of the last W messages) / ln W;
* competence: share of the last W messages understood without a miss.

Nothing here touches ZODB: `summary` feeds these functions from the image,
`activity` from the daemon.
"""

from __future__ import annotations

import ast
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from batos_core.autotelic.config import COMPONENTS

Histogram = Mapping[str, int]


def xlogx(n: float) -> float:
    """n·ln n, with 0·ln 0 = 0 (the term each count adds to the running sums)."""
    return n * math.log(n) if n > 0 else 0.0


def entropy_from_sums(total: float, sum_xlogx: float, population: int) -> float:
    """Normalized entropy Ĥ of counts given only Σn, Σ n·ln n and how many there are.

    H = ln S - (Σ n ln n)/S; Ĥ = H / ln N. This is what makes the structural
    component incremental: a changed object moves both sums by a difference.
    Returns 0.0 when nothing can be spread (N < 2 or S = 0); clamped to [0, 1]
    against float drift.
    """
    if population < 2 or total <= 0:
        return 0.0
    value = (math.log(total) - sum_xlogx / total) / math.log(population)
    return min(1.0, max(0.0, value))


def normalized_entropy(counts: Iterable[float], population: int | None = None) -> float:
    """Ĥ of `counts` over `population` bins (default: one bin per count, zeros included)."""
    values = list(counts)
    return entropy_from_sums(
        sum(values), sum(xlogx(v) for v in values), len(values) if population is None else population
    )


def selector_diversity(selectors: Iterable[str]) -> float:
    """Entropy of a sequence of selectors over its length: 1.0 when all differ, 0.0 when one repeats."""
    seq = list(selectors)
    if len(seq) < 2:
        return 0.0
    counts = Counter(seq)
    total = len(seq)
    entropy = -sum(c / total * math.log(c / total) for c in counts.values())
    return min(1.0, max(0.0, entropy / math.log(total)))


def ast_histogram(source: str) -> Counter[str]:
    """How many AST nodes of each type `source` has (empty for source that does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return Counter()
    return Counter(type(node).__name__ for node in ast.walk(tree))


def cosine(a: Histogram, b: Histogram) -> float:
    """Cosine similarity of two histograms (0.0 if either is empty)."""
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def novelty(candidate: Histogram, existing: Iterable[Histogram]) -> float:
    """1 - the highest cosine similarity to any existing histogram (1.0 against nothing)."""
    best = 0.0
    for other in existing:
        best = max(best, cosine(candidate, other))
        if best >= 1.0:
            break
    return min(1.0, max(0.0, 1.0 - best))


def competence(messages: int, misses: int) -> float:
    """Share of messages understood without a miss; 1.0 when there were none (nothing failed)."""
    if messages <= 0:
        return 1.0
    return min(1.0, max(0.0, (messages - misses) / messages))


@dataclass(frozen=True)
class CemReading:
    """One evaluation of the metric: the value, its components and what they were computed from."""

    value: float
    components: dict[str, float]
    weights: dict[str, float]
    time: float
    facts: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Plain data for replies and act records."""
        return {
            "value": self.value,
            "components": dict(self.components),
            "weights": dict(self.weights),
            "time": self.time,
            "facts": dict(self.facts),
        }


def combine(
    components: Mapping[str, float],
    weights: Mapping[str, float],
    now: float,
    facts: Mapping[str, float] | None = None,
) -> CemReading:
    """The weighted mean of the clamped components; raises ValueError if all weights are 0."""
    total = sum(max(0.0, weights.get(name, 0.0)) for name in COMPONENTS)
    if total <= 0:
        raise ValueError("the CEM weights must not all be zero")
    clamped = {name: min(1.0, max(0.0, float(components.get(name, 0.0)))) for name in COMPONENTS}
    value = sum(clamped[name] * max(0.0, weights.get(name, 0.0)) for name in COMPONENTS) / total
    return CemReading(
        value=round(value, 6),
        components={k: round(v, 6) for k, v in clamped.items()},
        weights={name: float(weights.get(name, 0.0)) for name in COMPONENTS},
        time=now,
        facts=dict(facts or {}),
    )
