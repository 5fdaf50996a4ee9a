"""The image summary the CEM reads, kept up to date by differences, not rescans.

Per object it remembers two counts (slots, method slots); the structural
component needs only N, Σn and Σ n·ln n of each, which an update moves by a
difference in O(1). Methods are remembered as AST-node histograms (one per
distinct source) with, for each install, its novelty against every method
known before it, computed once when the install is first seen.

Plain Python: `tracker` feeds it from ZODB, tests feed it by hand.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from dataclasses import dataclass, field

from batos_core.autotelic.cem import ast_histogram, entropy_from_sums, novelty, xlogx

#: Distinct method sources compared against when scoring a new install (the newest ones).
MAX_CORPUS = 2000


@dataclass
class _Sums:
    total: float = 0.0
    sum_xlogx: float = 0.0

    def move(self, old: int, new: int) -> None:
        self.total += new - old
        self.sum_xlogx += xlogx(new) - xlogx(old)


@dataclass
class ImageSummary:
    """Counts per object and method histograms; every update is O(1) (novelty: O(corpus))."""

    recent_installs: int = 20
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)
    _slots: _Sums = field(default_factory=_Sums)
    _methods: _Sums = field(default_factory=_Sums)
    _corpus: dict[str, Counter[str]] = field(default_factory=dict)
    _novelties: deque[float] = field(default_factory=deque)

    # -- objects -------------------------------------------------------------

    def set_object(self, oid: int, slots: int, methods: int) -> None:
        """Record that object `oid` now has `slots` slots of which `methods` hold Methods."""
        old_slots, old_methods = self.counts.get(oid, (0, 0))
        self._slots.move(old_slots, slots)
        self._methods.move(old_methods, methods)
        self.counts[oid] = (slots, methods)

    def drop_object(self, oid: int) -> None:
        """Forget `oid` (it is gone or is no longer a UvmObject)."""
        old = self.counts.pop(oid, None)
        if old is not None:
            self._slots.move(old[0], 0)
            self._methods.move(old[1], 0)

    @property
    def objects(self) -> int:
        return len(self.counts)

    @property
    def slots(self) -> int:
        return round(self._slots.total)

    @property
    def methods(self) -> int:
        return round(self._methods.total)

    def structural_entropy(self) -> float:
        """½·Ĥ(slots per object) + ½·Ĥ(method slots per object), in [0, 1]."""
        n = len(self.counts)
        slots = entropy_from_sums(self._slots.total, self._slots.sum_xlogx, n)
        methods = entropy_from_sums(self._methods.total, self._methods.sum_xlogx, n)
        return 0.5 * slots + 0.5 * methods

    # -- methods -------------------------------------------------------------

    def know_method(self, source: str) -> None:
        """Add an existing method (found by a scan, not installed now) to the corpus."""
        key = _key(source)
        if key not in self._corpus:
            self._add(key, ast_histogram(source))

    def record_install(self, source: str) -> float:
        """Score an install's novelty against every method known before it, then know it.

        Returns the novelty (0.0 for a source already known).
        """
        key = _key(source)
        if key in self._corpus:
            score = 0.0
        else:
            histogram = ast_histogram(source)
            score = novelty(histogram, self._corpus.values()) if histogram else 0.0
            self._add(key, histogram)
        self._novelties.append(score)
        while len(self._novelties) > self.recent_installs:
            self._novelties.popleft()
        return score

    def solution_novelty(self) -> float:
        """Mean novelty of the last `recent_installs` installs (0.0 if none)."""
        if not self._novelties:
            return 0.0
        return sum(self._novelties) / len(self._novelties)

    @property
    def installs_seen(self) -> int:
        return len(self._novelties)

    def _add(self, key: str, histogram: Counter[str]) -> None:
        self._corpus[key] = histogram
        if len(self._corpus) > MAX_CORPUS:
            del self._corpus[next(iter(self._corpus))]  # dicts keep insertion order: oldest first

    def reset_objects(self) -> None:
        """Forget every object count (before a full rescan); the method corpus stays."""
        self.counts.clear()
        self._slots = _Sums()
        self._methods = _Sums()


def _key(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()
