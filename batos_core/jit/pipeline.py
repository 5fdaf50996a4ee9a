"""doesNotUnderstand: as a compiler pass: miss -> generate -> vet -> trial -> install.

Runs on the daemon worker that got the miss, after the message's transaction
was aborted (seed defect 4: the model never runs inside a transaction, so a
conflict retry can never re-prompt it). Three short transactions touch the
image: one to snapshot the receiver, one to install the method (with its
change-log record), or one to record the rejection. Generation, extraction,
vetting and the trial run happen with no transaction open.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from batos_core.daemon_config import parse_candidates
from batos_core.image import Session
from batos_core.jit.backends.base import (
    Backend,
    BackendError,
    Generation,
    GenerationCancelled,
    check_cancel,
)
from batos_core.jit.candidates import (
    CHECK_MAX_NEW_TOKENS,
    DEFAULT_UI_CANDIDATES,
    DID_NOTHING,
    MAX_CHECKS,
    UI_CANDIDATES_ENV,
    BehaviourGroup,
    Candidate,
    Choice,
    candidates_from_env,
    check_selector,
    check_sources,
    choose,
    describe,
    group_candidates,
    needs_checks,
    round_failure,
    run_round,
    sampling,
    with_check_verdicts,
)
from batos_core.jit.errors import ExtractionError, JitError, VetError
from batos_core.jit.extract import extract_code
from batos_core.jit.misses import Emit, MissContext
from batos_core.jit.prompt import (
    check_messages,
    check_parameter_names,
    method_messages,
    prompt_hash,
    repair_messages,
    ui_messages,
    ui_prefill,
)
from batos_core.jit.review import DEFAULT_REVIEW_TIMEOUT_S, Decision, ReviewBoard, ReviewClosed
from batos_core.jit.signature import signature_for
from batos_core.jit.snapshot import ReceiverSnapshot, short_repr, type_name
from batos_core.jit.trial import TrialPolicy, TrialResult, run_trial
from batos_core.jit.vet import VetPolicy, VettedMethod, vet
from batos_core.methods.changelog import change_log
from batos_core.methods.install import install_method, lobby_name
from batos_core.objects import (
    Method,
    SlotNotFound,
    UvmObject,
    ValueNotUnderstood,
    format_oid,
    parents,
    print_string,
    slot_items,
)
from batos_core.objects.uvm_object import understood_slots
from batos_core.selfsyntax.install import self_source
from batos_core.selfsyntax.protocol import AUTHOR as PROTOCOL_AUTHOR
from batos_core.selfsyntax.signature import self_signature
from batos_core.ui_contract import UI_SELECTOR

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 3
ATTEMPTS_ENV = "BATOS_JIT_ATTEMPTS"  # 1 turns repair off (measurements: docs/jit.md)
UI_ATTEMPTS_ENV = "BATOS_JIT_UI_ATTEMPTS"
#: Added to every sampled candidate's seed (greedy candidate 1 has none): the
#: same miss then writes other candidates, which is how a bench measures how
#: often a prompt passes rather than whether one seeded sequence does.
SEED_OFFSET_ENV = "BATOS_JIT_SEED_OFFSET"
#: display_yourself gets more tries: the 1.5B coder's UI passed its trial on the 5th.
DEFAULT_UI_ATTEMPTS = 6
REPAIR_TEMPERATURE = 0.7
HEARTBEAT_S = 2.0


class GenerationFailed(JitError):
    """Every attempt failed; `reason` says why and `last_code` is the last candidate."""

    def __init__(self, selector: str, reason: str, last_code: str, attempts: int) -> None:
        shown = f"\n--- last code ---\n{last_code.rstrip()}" if last_code else ""
        super().__init__(f"could not write {selector} in {attempts} attempt(s): {reason}{shown}")
        self.selector = selector
        self.reason = reason
        self.last_code = last_code
        self.attempts = attempts


class ProposalRejected(GenerationFailed):
    """A reviewer rejected the proposal, or nobody decided in time (nothing was installed)."""


@dataclass(frozen=True)
class Intent:
    """A method asked for on purpose (the autotelic loop) rather than by a miss.

    ``text``: one line the prompt shows as what the method is for. ``check``:
    vetted source of a function ``check(self)`` the trial runs after loading
    the method; the method is installed only if it returns true. ``cancel``:
    set it to stop the generation (GenerationCancelled propagates; nothing is
    installed). ``provenance``: extra keys recorded with the install or the
    rejection.
    """

    text: str
    check: str | None = None
    cancel: threading.Event | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


class NotGeneratable(JitError):
    """A receiver or selector the JIT refuses to generate for (reserved names, no stored holder)."""


@dataclass
class JitSettings:
    """Knobs of the pipeline (defaults from the design; batos.toml may override)."""

    attempts: int = field(default_factory=lambda: _attempts_from_env(DEFAULT_ATTEMPTS))
    ui_attempts: int = field(default_factory=lambda: _attempts_from_env(DEFAULT_UI_ATTEMPTS, UI_ATTEMPTS_ENV))
    max_new_tokens: int = 400
    ui_max_new_tokens: int = 1500
    review: bool = False
    review_timeout_s: float = DEFAULT_REVIEW_TIMEOUT_S
    #: K, the candidates written for a miss (1: one, as before candidates existed).
    candidates: int = field(default_factory=candidates_from_env)
    #: K for display_yourself (never more than ``candidates``).
    ui_candidates: int = field(
        default_factory=lambda: candidates_from_env(DEFAULT_UI_CANDIDATES, UI_CANDIDATES_ENV)
    )
    #: Added to every sampled candidate's seed (SEED_OFFSET_ENV; 0: the seeds as numbered).
    seed_offset: int = field(default_factory=lambda: _seed_offset_from_env())

    def __post_init__(self) -> None:
        """Raises ValueError for a candidate count outside 1..MAX_CANDIDATES."""
        self.candidates = parse_candidates(self.candidates)
        self.ui_candidates = parse_candidates(self.ui_candidates)


def _seed_offset_from_env() -> int:
    """SEED_OFFSET_ENV as an int of 0 or more; 0 when unset or invalid (logged)."""
    raw = os.environ.get(SEED_OFFSET_ENV, "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        log.warning("ignoring %s=%r: expected an integer of 0 or more", SEED_OFFSET_ENV, raw)
        return 0
    return int(raw)


def _attempts_from_env(default: int, variable: str = ATTEMPTS_ENV) -> int:
    """The environment `variable` as a positive int; `default` when unset or invalid (logged)."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        log.warning("ignoring %s=%r: expected a positive integer", variable, raw)
        return default
    return value


@dataclass
class Outcome:
    """What one compile produced, for provenance, history and benchmarks."""

    selector: str
    target: str
    version: int = 0
    source: str = ""
    attempts: int = 0
    tokens: int = 0
    model_seconds: float = 0.0
    overhead_seconds: float = 0.0
    total_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    #: Every candidate written for this miss, repairs included, in order.
    candidates: list[Candidate] = field(default_factory=list)
    #: The last round's choice (None when no candidate could be installed).
    choice: Choice | None = None


@dataclass
class _Job:
    """What stays fixed across the rounds of one miss (the checks are written at most once)."""

    selector: str
    snapshot: ReceiverSnapshot
    args: list[Any] | None
    intent: Intent | None
    ui: bool
    k: int
    vet_policy: VetPolicy
    trial_policy: TrialPolicy
    first_messages: list[dict[str, str]]
    prefill: str
    prompt_hash: str
    prompt: list[dict[str, str]]
    extra: dict[str, Any]
    checks: tuple[str, ...] | None = None

    @property
    def first_pass_wins(self) -> bool:
        """The UI trial, or the intent's check, is the test: the first candidate passing it wins."""
        return self.ui or (self.intent is not None and self.intent.check is not None)


@dataclass
class _Compilation:
    """One miss on its way through prepare -> attempt -> accept."""

    miss: SlotNotFound
    holder_oid: str
    job: _Job
    outcome: Outcome
    emit: Emit
    #: The request's cancel switch, or the intent's.
    stop: threading.Event | None
    started: float


class JitCompiler:
    """The doesNotUnderstand: hook of a daemon: one backend, generation serialised."""

    def __init__(self, backend: Backend, settings: JitSettings | None = None) -> None:
        self.backend = backend
        self.settings = settings or JitSettings()
        self._generate_lock = threading.Lock()
        self.outcomes: list[Outcome] = []

    # -- the hook ----------------------------------------------------------

    def on_miss(self, miss: SlotNotFound, ctx: MissContext, request: object) -> bool:
        """The JIT as a daemon's `MissHook`: fill `miss` with a generated method.
        True when installed (the request re-runs); raises GenerationFailed /
        NotGeneratable otherwise, GenerationCancelled when the request's cancel
        switch is pulled.

        With review on (daemon setting, or the request's ``review`` flag) the
        method waits on the daemon's review board (``ctx.reviews``) for approval.
        """
        reviews = None
        if self.settings.review or getattr(request, "review", False):
            reviews = ctx.reviews
            if reviews is None:
                raise NotGeneratable("review was asked for, but this daemon takes no proposals")
        outcome = self.compile(ctx.session, miss, ctx.emit, reviews=reviews, cancel=ctx.cancel)
        self.outcomes.append(outcome)
        return True

    def compile(
        self,
        session: Session,
        miss: SlotNotFound,
        emit: Emit,
        *,
        reviews: ReviewBoard | None = None,
        intent: Intent | None = None,
        cancel: threading.Event | None = None,
    ) -> Outcome:
        """Generate, vet, try and install `miss.selector`; with `reviews`, only after approval.

        Three stages: `_prepare` (the receiver's snapshot and the prompt),
        `_attempt` (rounds of candidates until one is chosen: the first round
        writes up to K candidates, chosen by behaviour as in
        ``batos_core.jit.candidates``; each later round is one repair turn,
        taken only when no candidate of the previous round passed), `_accept`
        (review when asked, then install).

        Raises GenerationFailed when every round failed, ProposalRejected when
        a reviewer said no (or nobody decided in time), NotGeneratable for
        reserved names and receivers that were never stored, and
        GenerationCancelled when `cancel` (or the intent's) is set: before a
        candidate, during generation (at the next token), or before installing.
        Nothing is installed or logged as a rejection then.
        """
        stop = intent.cancel if intent is not None and intent.cancel is not None else cancel
        work = self._prepare(session, miss, emit, intent, stop)
        choice = self._attempt(session, work)
        return self._accept(session, work, choice, reviews)

    # -- prepare -> attempt -> accept ----------------------------------------

    def _prepare(
        self,
        session: Session,
        miss: SlotNotFound,
        emit: Emit,
        intent: Intent | None,
        stop: threading.Event | None,
    ) -> _Compilation:
        """Refuse reserved names, snapshot the receiver (a short read transaction),
        and write the job: prompt, policies, K. Raises NotGeneratable."""
        started = time.perf_counter()
        selector = miss.selector
        if selector.startswith("_"):
            raise NotGeneratable(f"reserved names never reach the model: {selector!r}")
        holder_oid, snapshot, args = self._snapshot(session, miss)
        job = self._job(selector, snapshot, args, intent)
        outcome = Outcome(selector=selector, target=holder_oid)
        return _Compilation(miss, holder_oid, job, outcome, emit, stop, started)

    def _attempt(self, session: Session, work: _Compilation) -> Choice:
        """Rounds until one chooses a candidate. When every round failed, the
        rejection is recorded and GenerationFailed raised; GenerationCancelled
        propagates."""
        job = work.job
        messages = job.first_messages
        failed: Candidate | None = None
        rounds = self.settings.ui_attempts if job.ui else self.settings.attempts
        for attempt in range(1, rounds + 1):
            result = self._round(work, messages, attempt)
            if isinstance(result, Choice):
                return result
            failed = result
            messages = self._repair(work, messages, failed, attempt)
        assert failed is not None
        self._record_rejection(
            session, work.miss, work.holder_oid, failed.code, failed.reason, work.outcome, job.extra
        )
        raise GenerationFailed(job.selector, failed.reason, failed.code, work.outcome.attempts)

    def _round(self, work: _Compilation, messages: list[dict[str, str]], attempt: int) -> Choice | Candidate:
        """Write the round's candidates (K in the first round, one repair after) and
        choose: the choice, or the candidate whose failure the round reports."""
        check_cancel(work.stop, "")
        outcome = work.outcome
        outcome.attempts = attempt
        k = work.job.k if attempt == 1 else 1
        first = len(outcome.candidates) + 1
        write = partial(
            self._candidate,
            work.job,
            messages,
            first=first,
            attempt=attempt,
            emit=work.emit,
            stop=work.stop,
            outcome=outcome,
        )
        candidates, early = run_round(k, first, write, first_pass_wins=work.job.first_pass_wins)
        choice = self._choose(work.job, candidates, k, early, work.emit, work.stop, outcome)
        return choice if choice is not None else round_failure(candidates)

    def _repair(
        self, work: _Compilation, messages: list[dict[str, str]], failed: Candidate, attempt: int
    ) -> list[dict[str, str]]:
        """Report the failed round (log and ``rejected`` event); the next round's
        prompt: the failed code and why it failed."""
        assert failed.failure is not None
        if isinstance(failed.failure, TrialResult) and failed.failure.error_name == DID_NOTHING:
            work.outcome.failures.append(failed.reason)  # its candidates passed; the round did not
        log.info("%s round %d failed: %s", work.job.selector, attempt, failed.reason)
        work.emit("phase", {"phase": "rejected", "selector": work.job.selector, "reason": failed.reason})
        previous = failed.vetted.source if failed.vetted is not None else failed.code
        first = work.job.first_messages if work.job.ui else messages
        return repair_messages(first, previous, failed.failure, attempt=attempt)

    def _job(
        self,
        selector: str,
        snapshot: ReceiverSnapshot,
        args: list[Any] | None,
        intent: Intent | None,
    ) -> _Job:
        """The prompt, policies and candidate count of one miss. Raises NotGeneratable."""
        ui = selector == UI_SELECTOR
        vet_policy = VetPolicy.ui() if ui else VetPolicy.default()
        if ui:
            messages = ui_messages(snapshot)
        else:
            try:
                messages = method_messages(
                    selector, snapshot, args, policy=vet_policy, intent=intent.text if intent else None
                )
            except ValueError as exc:
                raise NotGeneratable(str(exc)) from None
        if intent is not None or (args is None and signature_for(selector).arity > 0):
            # An intent's own check decides; a call with unknown arguments shows
            # no behaviour to compare: one candidate per round, as before.
            k = 1
        elif ui:
            k = min(self.settings.ui_candidates, self.settings.candidates)
        else:
            k = self.settings.candidates
        prefill = ui_prefill() if ui else ""
        prompt = [dict(m) for m in messages]  # kept with the install: the fine-tuning dataset's input
        if prefill:
            prompt.append({"role": "assistant", "content": prefill})
        return _Job(
            selector=selector,
            snapshot=snapshot,
            args=args,
            intent=intent,
            ui=ui,
            k=k,
            vet_policy=vet_policy,
            trial_policy=TrialPolicy.ui() if ui else TrialPolicy.default(),
            first_messages=messages,
            prefill=prefill,
            prompt_hash=prompt_hash(messages, prefill),
            prompt=prompt,
            extra=dict(intent.provenance) if intent else {},
        )

    def _candidate(
        self,
        job: _Job,
        messages: Sequence[dict[str, str]],
        index: int,
        *,
        first: int,
        attempt: int,
        emit: Emit,
        stop: threading.Event | None,
        outcome: Outcome,
    ) -> Candidate:
        """Write, extract, vet and try candidate `index` of the round that began at
        candidate `first`; every outcome is a Candidate (and an event).

        Raises GenerationCancelled and GenerationFailed (the backend failed).
        """
        check_cancel(stop, "")
        temperature, seed = sampling(index) if attempt == 1 else (REPAIR_TEMPERATURE, index)
        if seed is not None:
            seed += self.settings.seed_offset
        emit(
            "phase",
            {
                "phase": "generating",
                "selector": job.selector,
                "attempt": attempt,
                "model": self.backend.model_id,
                "candidate": index,
                "candidates": job.k,
                "temperature": temperature,
            },
        )
        generation = self._generate(
            messages,
            job.selector,
            attempt,
            job.ui,
            emit,
            cancel=stop,
            prefill=job.prefill,
            temperature=temperature,
            seed=seed,
        )
        text = generation.text
        outcome.tokens += generation.tokens
        outcome.model_seconds += generation.seconds
        written = Candidate(index, temperature, seed, text, generation.tokens, generation.seconds)
        code = ""
        try:
            code = extract_code(text, job.selector)
            emit("phase", {"phase": "vetting", "selector": job.selector})
            vetted = vet(code, job.selector, job.vet_policy)
            trial = self._trial(
                vetted,
                job.snapshot,
                job.args,
                job.trial_policy,
                emit,
                check=job.intent.check if job.intent else None,
            )
        except (ExtractionError, VetError) as failure:
            reason = _rejection_reason(failure, generation)
            candidate = replace(written, code=code or text, failure=failure, reason=reason)
        else:
            candidate = replace(written, code=vetted.source, vetted=vetted, trial=trial)
            needs_check = job.intent is not None and job.intent.check is not None
            if not (_trial_passed(trial, job.args) and (trial.ok or not needs_check)):
                reason = f"trial: {trial.error_name}: {trial.error_message}"
                candidate = replace(candidate, failure=trial, reason=reason)
                log.info("%s candidate %d failed: %s\n%s", job.selector, index, reason, trial.traceback or "")
        outcome.candidates.append(candidate)
        if candidate.reason:
            log.info("%s candidate %d rejected: %s", job.selector, index, candidate.reason)
            outcome.failures.append(
                candidate.reason if job.k == 1 else f"candidate {index}: {candidate.reason}"
            )
        this_round = [c for c in outcome.candidates if c.index >= first]
        group = next(
            (g for g in group_candidates(this_round) if any(m is candidate for m in g.members)), None
        )
        emit("phase", {**describe(candidate, group), "selector": job.selector})
        return candidate

    def _choose(
        self,
        job: _Job,
        candidates: Sequence[Candidate],
        k: int,
        early: bool,
        emit: Emit,
        stop: threading.Event | None,
        outcome: Outcome,
    ) -> Choice | None:
        """Group the round's candidates, run checks when they can change the choice, choose."""
        groups = group_candidates(candidates)
        checks = 0
        if not job.first_pass_wins and job.args is not None and needs_checks(groups, k):
            sources = self._checks(job, emit, stop, outcome)
            checks = len(sources)
            if sources:
                groups = self._check_groups(job, groups, sources, emit)
        choice = choose(groups, k=k, generated=len(candidates), checks=checks, early=early)
        outcome.choice = choice
        if choice is not None:
            emit(
                "phase",
                {
                    "phase": "chosen",
                    "selector": job.selector,
                    "candidate": choice.winner.index,
                    "k": k,
                    "generated": len(candidates),
                    "groups": [group.size for group in choice.groups],
                    "checks": checks,
                    "checks_passed": choice.group.checks_passed,
                    "majority": choice.majority.index,
                },
            )
        return choice

    def _checks(
        self, job: _Job, emit: Emit, stop: threading.Event | None, outcome: Outcome
    ) -> tuple[str, ...]:
        """The model's checks for the triggering call, written once per miss (then cached).

        A backend failure leaves the choice without checks (logged);
        GenerationCancelled propagates.
        """
        if job.checks is not None:
            return job.checks
        assert job.args is not None
        names = check_parameter_names(job.selector, job.args)
        emit("phase", {"phase": "writing checks", "selector": job.selector})
        try:
            generation = self._generate(
                check_messages(job.selector, job.snapshot, job.args, count=MAX_CHECKS),
                job.selector,
                1,
                False,
                emit,
                cancel=stop,
                max_new_tokens=CHECK_MAX_NEW_TOKENS,
            )
        except GenerationFailed as failed:
            log.warning("%s: no checks, the backend failed: %s", job.selector, failed.reason)
            job.checks = ()
            return job.checks
        outcome.tokens += generation.tokens
        outcome.model_seconds += generation.seconds
        job.checks = check_sources(generation.text, len(job.args), names)
        log.info("%s: %d usable check(s) of the model's reply", job.selector, len(job.checks))
        return job.checks

    def _check_groups(
        self, job: _Job, groups: Sequence[BehaviourGroup], sources: Sequence[str], emit: Emit
    ) -> tuple[BehaviourGroup, ...]:
        """Try one candidate of each group again with the checks; groups with their verdicts."""
        verdicts: dict[int, int] = {}
        selector = check_selector(len(job.args or ()))
        emit("phase", {"phase": "checking", "selector": job.selector, "checks": len(sources)})
        for group in groups:
            vetted = group.first.vetted
            if group.did_nothing or not group.observed or vetted is None:
                continue
            with _Heartbeat(emit, "checking"):
                trial = run_trial(
                    vetted,
                    job.snapshot,
                    job.args or (),
                    job.trial_policy,
                    checks=sources,
                    check_selector=selector,
                )
            verdicts[group.number] = sum(trial.checks)
        return with_check_verdicts(groups, verdicts)

    def _accept(
        self, session: Session, work: _Compilation, choice: Choice, reviews: ReviewBoard | None
    ) -> Outcome:
        """Review (when asked) and install the chosen candidate (a short write
        transaction). Raises ProposalRejected, and GenerationCancelled before installing."""
        vetted, trial = choice.winner.vetted, choice.winner.trial
        assert vetted is not None and trial is not None
        approver = self._approver(session, work, vetted, trial, reviews)
        check_cancel(work.stop, vetted.source)
        outcome = work.outcome
        outcome.source = vetted.source
        provenance = self._provenance(work, choice, trial, approver)
        outcome.version = self._install(session, work.holder_oid, vetted, provenance)
        outcome.total_seconds = time.perf_counter() - work.started
        outcome.overhead_seconds = outcome.total_seconds - outcome.model_seconds
        work.emit("phase", {"phase": "installed", "selector": work.job.selector, "version": outcome.version})
        _log_install(work, choice)
        return outcome

    def _approver(
        self,
        session: Session,
        work: _Compilation,
        vetted: VettedMethod,
        trial: TrialResult,
        reviews: ReviewBoard | None,
    ) -> str:
        """Who approves the install: vetting and the trial, or, with `reviews`, the
        reviewer. A rejection (or no decision in time) is recorded and raised as
        ProposalRejected; GenerationCancelled while waiting."""
        if reviews is None:
            return "vetted+trial"
        decision = self._review(
            reviews, work.holder_oid, work.job.snapshot, vetted, trial, work.emit, work.stop
        )
        check_cancel(work.stop, vetted.source)
        if not decision.approved:
            outcome = work.outcome
            outcome.failures.append(decision.reason)
            self._record_rejection(
                session, work.miss, work.holder_oid, vetted.source, decision.reason, outcome
            )
            raise ProposalRejected(work.job.selector, decision.reason, vetted.source, outcome.attempts)
        return decision.approver

    def _provenance(
        self, work: _Compilation, choice: Choice, trial: TrialResult, approver: str
    ) -> dict[str, Any]:
        """What the installed method and its change-log record keep of how it was made."""
        outcome = work.outcome
        return {
            "author": "llm",
            "backend": self.backend.name,
            "model": self.backend.model_id,
            "prompt_hash": work.job.prompt_hash,
            "attempts": outcome.attempts,
            "tokens": outcome.tokens,
            "model_seconds": round(outcome.model_seconds, 3),
            "trial": _trial_summary(trial),
            "candidates": choice.provenance(),
            "approver": approver,
            "prompt": work.job.prompt,
            **work.job.extra,
        }

    # -- steps -------------------------------------------------------------

    def _snapshot(
        self, session: Session, miss: SlotNotFound
    ) -> tuple[str, ReceiverSnapshot, list[Any] | None]:
        """Short read transaction: which stored object gets the method, and what the model sees."""
        try:
            receiver = _stored_receiver(session, miss)
            holder = _install_holder(receiver)
            if isinstance(miss, ValueNotUnderstood):  # a number's miss: self is the number
                snapshot = value_snapshot(miss.value)
            else:
                snapshot = snapshot_of(receiver, lobby_name(session.lobby, receiver))
            return format_oid(holder), snapshot, miss.arguments
        finally:
            session.abort()

    def _trial(
        self,
        vetted: VettedMethod,
        snapshot: ReceiverSnapshot,
        args: list[Any] | None,
        policy: TrialPolicy,
        emit: Emit,
        *,
        check: str | None = None,
    ) -> TrialResult:
        if check is not None:
            # An intended method: the check calls it (its arguments are the check's).
            emit("phase", {"phase": "trial", "selector": vetted.selector, "check": True})
            with _Heartbeat(emit, "trial"):
                return run_trial(vetted, snapshot, args or (), policy, check=check, call=args is not None)
        if args is None and vetted.signature.arity > 0:
            # A miss from a plain attribute read has no arguments to try the
            # method with: vetting is the check, and the re-sent message the test.
            emit(
                "phase",
                {
                    "phase": "trial skipped",
                    "selector": vetted.selector,
                    "reason": "the message's arguments are unknown",
                },
            )
            return TrialResult(
                ok=True, value_repr=None, error_name=None, error_message=None, traceback=None, duration_s=0.0
            )
        emit("phase", {"phase": "trial", "selector": vetted.selector})
        with _Heartbeat(emit, "trial"):
            return run_trial(vetted, snapshot, args or (), policy)

    def _review(
        self,
        reviews: ReviewBoard,
        holder_oid: str,
        snapshot: ReceiverSnapshot,
        vetted: VettedMethod,
        trial: TrialResult,
        emit: Emit,
        cancel: threading.Event | None = None,
    ) -> Decision:
        """File a proposal and wait for its decision (or `cancel`), with no transaction open."""
        try:
            proposal = reviews.propose(
                target=holder_oid,
                target_name=snapshot.name if snapshot.name != holder_oid else "",
                selector=vetted.selector,
                source=vetted.source,
                trial=_trial_summary(trial),
                timeout_s=self.settings.review_timeout_s,
            )
        except ReviewClosed as closed:
            return Decision(False, "shutdown", str(closed))
        log.info("proposal %s: %s on %s waits for review", proposal.id, vetted.selector, holder_oid)
        emit("proposal", proposal.to_wire())
        with _Heartbeat(emit, "awaiting approval"):
            decision = reviews.wait(proposal, cancel)
        log.info(
            "proposal %s: %s by %s",
            proposal.id,
            "approved" if decision.approved else "rejected",
            decision.approver,
        )
        return decision

    def generate_text(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_new_tokens: int,
        on_token: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        temperature: float = 0.0,
    ) -> tuple[str, int, float]:
        """One free-form generation (the autotelic proposal), serialised with the JIT's own.

        Returns (text, tokens, seconds). Raises GenerationCancelled when
        `cancel` is set, BackendError for any other backend failure.
        """
        with self._generate_lock:
            generation = self.backend.generate(
                messages,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                on_token=on_token,
                cancel=cancel,
            )
        return generation.text, generation.tokens, generation.seconds

    def _generate(
        self,
        messages: Sequence[dict[str, str]],
        selector: str,
        attempt: int,
        ui: bool,
        emit: Emit,
        cancel: threading.Event | None = None,
        prefill: str = "",
        *,
        temperature: float = 0.0,
        seed: int | None = None,
        max_new_tokens: int | None = None,
    ) -> Generation:
        """One generation with its tokens streamed as events. Raises GenerationCancelled,
        and GenerationFailed for any other backend failure."""

        def on_token(text: str) -> None:
            emit("token", {"text": text})

        max_new = max_new_tokens or (self.settings.ui_max_new_tokens if ui else self.settings.max_new_tokens)
        with self._generate_lock, _Heartbeat(emit, "generating"):
            try:
                generation = self.backend.generate(
                    messages,
                    max_new_tokens=max_new,
                    temperature=temperature,
                    on_token=on_token,
                    cancel=cancel,
                    selector=selector,
                    prefill=prefill,
                    seed=seed,
                )
            except GenerationCancelled:
                raise  # the request's or the intent's cancel switch, not a backend failure
            except BackendError as exc:
                raise GenerationFailed(selector, f"the model backend failed: {exc}", "", attempt) from exc
        return generation

    def _install(
        self, session: Session, holder_oid: str, vetted: VettedMethod, provenance: dict[str, Any]
    ) -> int:
        """Short write transaction: the Method and its change-log record, together."""
        tm = session.transaction_manager
        for attempt in tm.attempts(20):
            with attempt:
                holder = session.resolve(holder_oid)
                version = install_method(
                    session, holder, vetted.selector, vetted.source, provenance, action="install"
                )
        return version

    def _record_rejection(
        self,
        session: Session,
        miss: SlotNotFound,
        holder_oid: str,
        code: str,
        reason: str,
        outcome: Outcome,
        extra: dict[str, Any] | None = None,
    ) -> None:
        tm = session.transaction_manager
        try:
            for attempt in tm.attempts(20):
                with attempt:
                    holder = session.resolve(holder_oid)
                    change_log(session.root).append(
                        "reject",
                        target=holder_oid,
                        target_name=lobby_name(session.lobby, holder) or "",
                        selector=miss.selector,
                        version=0,
                        source=code,
                        provenance={
                            "author": "llm",
                            "backend": self.backend.name,
                            "model": self.backend.model_id,
                            "reason": reason,
                            "attempts": outcome.attempts,
                            "failures": outcome.failures,
                            "candidates": [_rejected_candidate(c) for c in outcome.candidates],
                            "tokens": outcome.tokens,
                            "model_seconds": round(outcome.model_seconds, 3),
                            **(extra or {}),
                        },
                    )
        except Exception:
            log.exception("could not record the rejection of %s", miss.selector)


def snapshot_of(receiver: UvmObject, name: str | None = None) -> ReceiverSnapshot:
    """What the prompt and the trial may know about `receiver` (plain values only)."""
    data: dict[str, object] = {}
    parent_slots: dict[str, str] = {}
    for slot, value in slot_items(receiver):
        if slot.endswith("*"):
            # Without oids: the same world would otherwise prompt differently
            # wherever its storage put the parent (the reply table's buckets
            # moved it from 0xa to 0x40a, and the demo's UI stopped passing).
            parent_slots[slot] = print_string(value, oids=False)
        elif not isinstance(value, Method):
            data[slot] = _plain(value)
    methods: dict[str, str] = {}
    self_methods: dict[str, str] = {}
    for selector, value in understood_slots(receiver).items():
        if not isinstance(value, Method):
            continue
        if _standard_protocol(value):
            continue  # isNil, ifNil:... that every object inherits: not worth the prompt's room
        methods[selector] = value.source
        written = self_source(value)
        if written is not None:
            self_methods[selector] = self_signature(written) or selector
    return ReceiverSnapshot(
        name=name or format_oid(receiver),
        data_slots=data,
        parent_slots=parent_slots,
        methods=methods,
        self_methods=self_methods,
    )


def value_snapshot(value: Any) -> ReceiverSnapshot:
    """The receiver of a miss on a plain value: the value itself (the method is
    installed in its per-type traits object and runs with self = the value).
    No methods are listed: the traits' methods are reached by Self sends, not
    as Python attributes of the value."""
    plain = _plain(value)
    return ReceiverSnapshot(
        name=f"{short_repr(plain)} (a Python {type_name(plain)})", value_receiver=True, value=plain
    )


def _standard_protocol(method: Method) -> bool:
    """A method of the Self standard protocol as installed (`selfsyntax.protocol`), not redefined."""
    return self_source(method) is not None and method.provenance.get("author") == PROTOCOL_AUTHOR


def _plain(value: Any, depth: int = 0) -> Any:
    from persistent.list import PersistentList
    from persistent.mapping import PersistentMapping

    if depth > 6:
        return repr(value)
    if isinstance(value, (PersistentList, list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, (PersistentMapping, dict)):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    return value


def _stored_receiver(session: Session, miss: SlotNotFound) -> UvmObject:
    if miss.receiver_oid != "new":
        obj = session.resolve(miss.receiver_oid)
        assert isinstance(obj, UvmObject)
        return obj
    receiver = miss.receiver
    # A receiver made in the aborted transaction is gone; its stored parent
    # (the prototype it was cloned from) is where shared behaviour belongs.
    for parent in parents(receiver) if isinstance(receiver, UvmObject) else []:
        if parent._p_oid is not None:
            obj = session.resolve(format_oid(parent))
            assert isinstance(obj, UvmObject)
            return obj
    raise NotGeneratable(f"{miss.selector!r} was sent to an object that was never stored")


def _install_holder(receiver: UvmObject) -> UvmObject:
    return receiver


def _log_install(work: _Compilation, choice: Choice) -> None:
    outcome = work.outcome
    log.info(
        "installed %s v%d on %s after %d attempt(s), %d tokens, %.2f s model, %.3f s overhead, "
        "candidate %d of %d (groups %s, checks %d/%d)",
        work.job.selector,
        outcome.version,
        work.holder_oid,
        outcome.attempts,
        outcome.tokens,
        outcome.model_seconds,
        outcome.overhead_seconds,
        choice.winner.index,
        len(outcome.candidates),
        "+".join(str(group.size) for group in choice.groups),
        choice.group.checks_passed,
        choice.checks,
    )


def _rejection_reason(failure: Exception, generation: Generation) -> str:
    """Why extraction or vetting rejected a reply; a reply cut off at the token
    cap says so first (its code is usually just unfinished)."""
    if generation.stopped_at_cap:
        return f"the model did not finish its reply within {generation.tokens} tokens ({failure})"
    return str(failure)


def _trial_passed(trial: TrialResult, args: list[Any] | None) -> bool:
    if trial.ok:
        return True
    # Without the message's arguments the trial can only check that the code
    # loads; a call that needed a stored object's placeholder is inconclusive.
    return trial.inconclusive


def _rejected_candidate(candidate: Candidate) -> dict[str, Any]:
    """One candidate of a rejected miss, as its record keeps it."""
    return {
        "index": candidate.index,
        "temperature": candidate.temperature,
        "seed": candidate.seed,
        "verdict": candidate.verdict,
        "reason": candidate.reason[:300],
    }


def _trial_summary(trial: TrialResult) -> dict[str, Any]:
    return {"ok": trial.ok, "value": trial.value_repr, "seconds": round(trial.duration_s, 3)}


class _Heartbeat:
    """Emits a phase event every HEARTBEAT_S while a blocking step runs, so the
    client's silence timeout never fires during a long model load."""

    def __init__(self, emit: Emit, phase: str) -> None:
        self._emit = emit
        self._phase = phase
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batos-jit-heartbeat", daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self._emit(
                "heartbeat", {"phase": self._phase, "elapsed": round(time.monotonic() - self._started, 1)}
            )
