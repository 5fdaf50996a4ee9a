"""Candidates chosen by behaviour: several methods for one miss, grouped by what they did.

For a miss the pipeline writes up to K candidates (``JitSettings.candidates``):
candidate 1 greedy, the others sampled at ``SAMPLE_TEMPERATURE`` with seeds
derived from their number, so a run is reproducible. Each is extracted,
vetted and tried in the sandbox on the triggering call, exactly as a single
method is. The ones that passed are grouped by behaviour: the trial's digest
of the result's wire form plus the receiver's slot changes
(``TrialResult.behaviour``).

Order of decisions (``run_round`` and ``choose``):

1. After each candidate that passed, if one group that did something holds a
   majority of K (more than K/2), the round stops there: easy messages cost
   two or three candidates, not K. No checks are written then: a majority of
   independently sampled candidates agreeing on the exact result and slot
   changes is the strongest signal the choice has, and the checks' prompt
   would cost a generation to confirm it.
2. Otherwise, when K candidates end with no majority and two or more groups
   that did something, the model writes a few assert lines about the call
   (once per miss, ``check_messages``); one candidate of each group is tried
   again with them. The score of a group is (checks it passed) x (its
   size), CodeT's dual agreement; with no usable checks it is the size
   alone. The checks' expected values never reach a method prompt.
3. Ranking: groups that were observed come before groups whose trial was
   inconclusive (a placeholder was touched); then the higher score, then the
   larger group, then the earlier candidate. Deterministic: no randomness
   after generation.
4. A candidate that returned the receiver itself and changed no slot did
   nothing observable (issue 13, item 5): it is never chosen while another
   group did something, and its group never stops a round early. When every
   candidate that passed did nothing, the round fails with ``DidNothing``,
   whose text the repair prompt shows.

A round with ``first_pass_wins`` (``display_yourself``, whose UI trial is its
check, and an intent with its own check) stops at the first candidate that
passes.
"""

from __future__ import annotations

import ast
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from batos_core.daemon_config import parse_candidates
from batos_core.jit.errors import ExtractionError, VetError
from batos_core.jit.trial import TrialResult
from batos_core.jit.vet import VetPolicy, VettedMethod, vet

log = logging.getLogger(__name__)

CANDIDATES_ENV = "BATOS_JIT_CANDIDATES"
UI_CANDIDATES_ENV = "BATOS_JIT_UI_CANDIDATES"
DEFAULT_CANDIDATES = 4
#: display_yourself: its UI trial is the check, so a second candidate replaces a repair turn.
DEFAULT_UI_CANDIDATES = 2
SAMPLE_TEMPERATURE = 0.8
#: How many assert lines the checks prompt asks for (and how many are kept).
MAX_CHECKS = 3
CHECK_MAX_NEW_TOKENS = 160
DID_NOTHING = "DidNothing"
UNOBSERVED = "unobserved"

Failure = VetError | ExtractionError | TrialResult


def candidates_from_env(default: int = DEFAULT_CANDIDATES, variable: str = CANDIDATES_ENV) -> int:
    """The environment `variable` as a candidate count; `default` when unset or invalid (logged)."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        return parse_candidates(raw)
    except ValueError as exc:
        log.warning("ignoring %s=%r: %s", variable, raw, exc)
        return default


def sampling(index: int) -> tuple[float, int | None]:
    """(temperature, seed) of candidate `index` (1-based) of a miss's first round.

    Candidate 1 is greedy (no seed); candidate i > 1 samples at
    SAMPLE_TEMPERATURE with seed i - 1, so the same miss samples the same
    candidates on the same backend.
    """
    return (0.0, None) if index == 1 else (SAMPLE_TEMPERATURE, index - 1)


@dataclass(frozen=True)
class Candidate:
    """One written method and how it fared.

    ``index`` counts candidates across the whole miss (repairs included);
    ``failure`` is None exactly when the candidate passed vetting and its
    trial. ``reason`` is the failure as one line.
    """

    index: int
    temperature: float
    seed: int | None
    code: str
    tokens: int
    seconds: float
    vetted: VettedMethod | None = None
    trial: TrialResult | None = None
    failure: Failure | None = None
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.failure is None and self.vetted is not None

    @property
    def did_nothing(self) -> bool:
        """It returned the receiver itself and changed no slot."""
        return self.passed and self.trial is not None and self.trial.did_nothing

    @property
    def behaviour(self) -> str:
        """The key it is grouped by: the trial's behaviour digest, or UNOBSERVED."""
        if self.trial is None or not self.trial.behaviour:
            return UNOBSERVED
        return self.trial.behaviour

    @property
    def verdict(self) -> str:
        """ "passed", "did nothing", "vet failed" or "trial failed"."""
        if self.passed:
            return "did nothing" if self.did_nothing else "passed"
        return "trial failed" if isinstance(self.failure, TrialResult) else "vet failed"


@dataclass(frozen=True)
class BehaviourGroup:
    """Candidates that passed and did the same thing; ``checks_passed`` once checks ran."""

    number: int  # 1-based, in the order of the groups' first candidates
    behaviour: str
    members: tuple[Candidate, ...]
    checks_passed: int = 0

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def first(self) -> Candidate:
        return self.members[0]

    @property
    def did_nothing(self) -> bool:
        return self.first.did_nothing

    @property
    def observed(self) -> bool:
        return self.behaviour != UNOBSERVED


@dataclass(frozen=True)
class Choice:
    """Which candidate gets installed, and why.

    ``checks``: how many usable checks were written (0: none were needed or
    none survived vetting). ``majority``: the candidate a plain majority would
    have picked (largest group, then earliest), for the bench's comparison.
    ``early``: the round stopped at a majority before K candidates.
    """

    winner: Candidate
    group: BehaviourGroup
    groups: tuple[BehaviourGroup, ...]
    k: int
    generated: int
    checks: int
    majority: Candidate
    early: bool

    @property
    def score(self) -> int:
        return score(self.group, self.checks)

    def provenance(self) -> dict[str, Any]:
        """The ``candidates`` record kept with the install (shown by ``batos history``).

        ``majority`` is the candidate a plain majority would have installed; when
        that is not the winner its source is kept too (``majority_source``), so
        the bench can tell which choice was right.
        """
        record: dict[str, Any] = {
            "k": self.k,
            "generated": self.generated,
            "groups": [group.size for group in self.groups],
            "winner": self.winner.index,
            "seed": self.winner.seed,
            "temperature": self.winner.temperature,
            "checks": self.checks,
            "checks_passed": self.group.checks_passed,
            "score": self.score,
            "early_stop": self.early,
            "majority": self.majority.index,
        }
        if self.majority is not self.winner and self.majority.vetted is not None:
            record["majority_source"] = self.majority.vetted.source
        return record


def group_candidates(candidates: Sequence[Candidate]) -> tuple[BehaviourGroup, ...]:
    """The candidates that passed, grouped by behaviour, in order of first appearance."""
    members: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        if candidate.passed:
            members.setdefault(candidate.behaviour, []).append(candidate)
    return tuple(
        BehaviourGroup(number, behaviour, tuple(group))
        for number, (behaviour, group) in enumerate(members.items(), start=1)
    )


def majority_group(groups: Sequence[BehaviourGroup], k: int) -> BehaviourGroup | None:
    """A group that did something observable and holds more than k/2 candidates, or None."""
    for group in groups:
        if group.observed and not group.did_nothing and group.size * 2 > k:
            return group
    return None


def eligible(groups: Sequence[BehaviourGroup]) -> tuple[BehaviourGroup, ...]:
    """The groups that may be installed: every group that did something (do-nothing ones never)."""
    return tuple(group for group in groups if not group.did_nothing)


def score(group: BehaviourGroup, checks: int) -> int:
    """Dual agreement: checks passed x group size; the size alone when there are no checks."""
    return group.checks_passed * group.size if checks else group.size


def rank_key(group: BehaviourGroup, checks: int) -> tuple[int, int, int, int]:
    """Sort key, best first: observed, score, size, earlier first candidate."""
    return (0 if group.observed else 1, -score(group, checks), -group.size, group.first.index)


def choose(
    groups: Sequence[BehaviourGroup], *, k: int, generated: int, checks: int, early: bool
) -> Choice | None:
    """The best of `groups` (see the module docstring); None when no group may be installed."""
    candidates = eligible(groups)
    if not candidates:
        return None
    best = min(candidates, key=lambda group: rank_key(group, checks))
    plain = min(candidates, key=lambda group: rank_key(group, 0))
    return Choice(
        winner=best.first,
        group=best,
        groups=tuple(groups),
        k=k,
        generated=generated,
        checks=checks,
        majority=plain.first,
        early=early,
    )


def needs_checks(groups: Sequence[BehaviourGroup], k: int) -> bool:
    """Whether checks are worth writing: no majority of `k`, and two or more observed
    groups that did something (between fewer, checks cannot change the choice)."""
    if majority_group(groups, k) is not None:
        return False
    return sum(1 for group in eligible(groups) if group.observed) >= 2


def with_check_verdicts(
    groups: Sequence[BehaviourGroup], verdicts: dict[int, int]
) -> tuple[BehaviourGroup, ...]:
    """`groups` with ``checks_passed`` from `verdicts` (group number -> checks passed)."""
    return tuple(replace(group, checks_passed=verdicts.get(group.number, 0)) for group in groups)


def run_round(
    k: int, first_index: int, write: Callable[[int], Candidate], *, first_pass_wins: bool = False
) -> tuple[list[Candidate], bool]:
    """Write up to `k` candidates numbered from `first_index` with `write(index)`.

    Stops early at a majority (module docstring, 1) or, with
    `first_pass_wins`, at the first candidate that passed and did something.
    Returns the candidates and whether the round stopped early. Exceptions
    from `write` (a cancel, a backend failure) propagate.
    """
    candidates: list[Candidate] = []
    for index in range(first_index, first_index + k):
        candidate = write(index)
        candidates.append(candidate)
        if not candidate.passed or candidate.did_nothing:
            continue
        last = index == first_index + k - 1
        if first_pass_wins or (not last and majority_group(group_candidates(candidates), k) is not None):
            return candidates, not last
    return candidates, False


def round_failure(candidates: Sequence[Candidate]) -> Candidate:
    """The failed candidate a repair turn should start from.

    A candidate that did nothing (every passing one did) gets a ``DidNothing``
    failure; otherwise the earliest one that reached its trial (it got
    furthest), else the earliest one.
    """
    for candidate in candidates:
        if candidate.did_nothing and candidate.trial is not None and candidate.vetted is not None:
            return did_nothing(candidate)
    for candidate in candidates:
        if isinstance(candidate.failure, TrialResult):
            return candidate
    return candidates[0]


def did_nothing(candidate: Candidate) -> Candidate:
    """`candidate` failed as doing nothing observable (the repair prompt shows the message)."""
    assert candidate.trial is not None
    message = (
        "it returned self, the receiver, and changed no slot, so it did nothing observable. "
        "If the message asks for a value, compute and return that value; if it asks for an "
        "action, change the slots the action is about"
    )
    failure = replace(candidate.trial, ok=False, error_name=DID_NOTHING, error_message=message)
    return replace(candidate, failure=failure, reason=f"trial: {DID_NOTHING}: {message}")


# -- checks ------------------------------------------------------------------

_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*\n(.*?)(?:```|\Z)", re.DOTALL)


def check_selector(arity: int) -> str:
    """A Python selector whose signature takes ``arity + 1`` arguments: ``result`` and the call's.

    Each check is vetted as a method with this name, so the vetter checks its
    header as it checks a generated method's.
    """
    return "_".join(["check", *["and"] * arity]) + "_"


def check_sources(
    reply: str, arity: int, names: Sequence[str], *, limit: int = MAX_CHECKS
) -> tuple[str, ...]:
    """The usable checks in the model's `reply`: each assert line as a vetted function.

    Every ``assert`` statement in the reply's first code block (or the whole
    reply) becomes ``def check_..._(self, result, *names): assert ...``,
    vetted with the default method policy; ones that do not parse or are
    refused are dropped (logged), duplicates too. At most `limit`. Never raises.
    """
    from batos_core.jit.prompt import CHECK_RESULT_NAME

    blocks = _FENCE.findall(reply)
    text = blocks[0] if blocks else reply
    selector = check_selector(arity)
    header = f"def {selector}({', '.join(['self', CHECK_RESULT_NAME, *names])}):"
    sources: list[str] = []
    for line in text.splitlines():
        statement = line.strip()
        if not statement.startswith("assert") or len(sources) >= limit:
            continue
        try:
            tree = ast.parse(statement)
        except SyntaxError:
            log.info("check dropped, not one statement: %s", statement)
            continue
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
            continue
        source = f"{header}\n    {ast.unparse(tree.body[0])}\n"
        try:
            vet(source, selector, VetPolicy.default())
        except VetError as exc:
            log.info("check dropped by vetting (%s): %s", exc, statement)
            continue
        if source not in sources:
            sources.append(source)
    return tuple(sources)


def describe(candidate: Candidate, group: BehaviourGroup | None = None) -> dict[str, Any]:
    """The ``candidate`` phase event's data: its number, verdict, group and failure."""
    data: dict[str, Any] = {
        "phase": "candidate",
        "candidate": candidate.index,
        "verdict": candidate.verdict,
        "tokens": candidate.tokens,
    }
    if group is not None:
        data.update(group=group.number, group_size=group.size)
    if candidate.reason:
        data["reason"] = candidate.reason
    return data
