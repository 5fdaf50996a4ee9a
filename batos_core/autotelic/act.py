"""One self-improvement act: choose a receiver, ask for a capability, generate it through the JIT.

An act runs on its own thread with its own Session, so user requests never
wait behind it; the only thing it shares with them is the model, and its
generation is cancellable (the service sets `cancel` when a user request
arrives or autotelic is switched off). Steps:

1. choose the receiver (`choose_receiver`, rule below) and snapshot it;
2. ask the model for a selector, a one-line intent and a check (`proposal`;
   up to three tries, the later ones sampled, since greedy decoding repeats);
3. compile through `JitCompiler.compile` with that intent: the same
   extraction, vetting, sandboxed trial (which also runs the check), install
   and change-log provenance as a doesNotUnderstand: miss; installed only if
   the check passes;
4. record the outcome (CEM before/after, selector, tokens, time) in the
   autotelic record. Outcomes that leave no change-log record of their own
   (a bad proposal, a cancel) get a ``reject`` record, so every act shows in
   ``batos history``.

Receiver rule: among the objects named in the lobby (except ``lobby`` and
``traits``), the one with the most data slots per own method
((data + 1) / (methods + 1)); ties go to the one acted on least often, then
to the first name in alphabetical order. The idea: state that no behaviour
uses yet is where a new capability is most likely to be useful.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batos_core.autotelic.proposal import Proposal, ProposalError, parse_proposal, proposal_messages
from batos_core.autotelic.state import autotelic_state
from batos_core.image import Image, Session
from batos_core.jit.backends.base import BackendError, GenerationCancelled
from batos_core.jit.pipeline import GenerationFailed, Intent, JitCompiler, NotGeneratable, snapshot_of
from batos_core.jit.snapshot import ReceiverSnapshot
from batos_core.methods.changelog import change_log
from batos_core.objects import Method, SlotNotFound, UvmObject, format_oid, slot_items

log = logging.getLogger(__name__)

EXCLUDED_RECEIVERS = frozenset({"lobby", "traits"})
PROPOSAL_ATTEMPTS = 3
PROPOSAL_TEMPERATURE = 0.8


@dataclass
class ActResult:
    """What an act did; `fields()` is what goes into its record."""

    outcome: str = "failed"
    reason: str = ""
    receiver: str = ""
    receiver_name: str = ""
    selector: str = ""
    intent: str = ""
    check: str = ""
    version: int = 0
    tokens: int = 0
    cem_before: float = 0.0
    cem_after: float = 0.0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "receiver": self.receiver,
            "receiver_name": self.receiver_name,
            "selector": self.selector,
            "intent": self.intent,
            "check": self.check,
            "version": self.version,
            "tokens": self.tokens,
            "cem_before": self.cem_before,
            "cem_after": self.cem_after,
            "seconds": round(self.seconds, 3),
        }


def choose_receiver(session: Session, acts_per_target: dict[str, int]) -> tuple[UvmObject, str]:
    """The receiver of the next act and its lobby name (the module docstring states the rule).

    Falls back to ``genesis``. Raises ObjectNotFound only for an image
    without a genesis and without any other named object.
    """
    best: tuple[float, int, str] | None = None
    chosen: tuple[UvmObject, str] | None = None
    for name, value in slot_items(session.lobby):
        if name.endswith("*") or name in EXCLUDED_RECEIVERS or not isinstance(value, UvmObject):
            continue
        items = slot_items(value)
        methods = sum(1 for _, v in items if isinstance(v, Method))
        data = sum(1 for k, v in items if not k.endswith("*") and not isinstance(v, Method))
        key = (-(data + 1) / (methods + 1), acts_per_target.get(name, 0), name)
        if best is None or key < best:
            best, chosen = key, (value, name)
    if chosen is None:
        return session.resolve("genesis"), "genesis"
    return chosen


class Act:
    """One act; `run()` on a dedicated thread. `cancel` stops it at the next safe point."""

    def __init__(
        self,
        image: Image,
        compiler: JitCompiler,
        seq: int,
        *,
        cem: Callable[[], float],
        proposal_max_tokens: int,
        cancel: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.image = image
        self.compiler = compiler
        self.seq = seq
        self.cem = cem
        self.proposal_max_tokens = proposal_max_tokens
        self.cancel = cancel
        self.clock = clock
        self.result = ActResult()

    def run(self) -> ActResult:
        """Do the act and record its outcome; never raises (a failure is an outcome)."""
        started = time.perf_counter()
        result = self.result
        with self.image.session() as session:
            try:
                result.cem_before = self.cem()
                self._act(session, result)
            except GenerationCancelled:
                result.outcome, result.reason = "cancelled", "pre-empted by a user request or switched off"
                self._reject(session, result)
            except GenerationFailed as exc:
                result.outcome, result.reason = "rejected", exc.reason  # the pipeline logged the reject
            except (ProposalError, NotGeneratable, BackendError) as exc:
                result.outcome, result.reason = "failed", f"{type(exc).__name__}: {exc}"
                self._reject(session, result)
            except Exception as exc:  # a bug must not kill the heartbeat; the record says what happened
                log.exception("autotelic act %d failed", self.seq)
                result.outcome, result.reason = "failed", f"{type(exc).__name__}: {exc}"
            finally:
                session.abort()
            result.seconds = time.perf_counter() - started
            try:
                result.cem_after = self.cem()
            except Exception as exc:  # e.g. the daemon is stopping: the record keeps the value before
                log.info("no CEM after act %d: %s", self.seq, exc)
                result.cem_after = result.cem_before
            self._finish(session, result)
        log.info(
            "autotelic act %d: %s %s on %s (%s)",
            self.seq,
            result.outcome,
            result.selector,
            result.receiver_name or result.receiver,
            result.reason,
        )
        return result

    def _act(self, session: Session, result: ActResult) -> None:
        state = autotelic_state(session.root)
        per_target: dict[str, int] = {}
        for record in state.newest_first(200):
            name = str(record.get("receiver_name", ""))
            per_target[name] = per_target.get(name, 0) + 1
        receiver, name = choose_receiver(session, per_target)
        result.receiver, result.receiver_name = format_oid(receiver), name
        snapshot = snapshot_of(receiver, name)
        existing = set(snapshot.methods) | set(snapshot.data_slots)
        session.abort()  # no transaction is open while the model works

        def count_token(_: str) -> None:
            result.tokens += 1

        proposal = self._propose(snapshot, existing, count_token)
        result.selector, result.intent, result.check = proposal.selector, proposal.intent, proposal.expression

        def emit(kind: str, data: dict[str, Any]) -> None:
            if kind == "token":
                result.tokens += 1

        intent = Intent(
            text=proposal.intent,
            check=proposal.check_source,
            cancel=self.cancel,
            provenance={
                "author": "autotelic",
                "act": self.seq,
                "intent": proposal.intent,
                "check": proposal.expression,
            },
        )
        miss = SlotNotFound(result.receiver, proposal.selector)
        outcome = self.compiler.compile(session, miss, emit, intent=intent)
        result.outcome, result.version = "installed", outcome.version
        result.reason = f"installed v{outcome.version}; the check passed"

    def _propose(
        self, snapshot: ReceiverSnapshot, existing: set[str], on_token: Callable[[str], None]
    ) -> Proposal:
        """Ask for a proposal until one parses (greedy first, then sampled: greedy repeats itself)."""
        messages = proposal_messages(snapshot)
        failure: ProposalError | None = None
        text = ""
        for attempt in range(PROPOSAL_ATTEMPTS):
            text, _, _ = self.compiler.generate_text(
                messages,
                max_new_tokens=self.proposal_max_tokens,
                on_token=on_token,
                cancel=self.cancel,
                temperature=0.0 if attempt == 0 else PROPOSAL_TEMPERATURE,
            )
            try:
                return parse_proposal(text, existing)
            except ProposalError as exc:
                failure = exc
                log.info("act %d: proposal %d unusable: %s", self.seq, attempt + 1, exc)
        raise ProposalError(f"{failure}; last reply: {' '.join(text.split())[:160]!r}")

    def _reject(self, session: Session, result: ActResult) -> None:
        """A change-log ``reject`` for an act the pipeline did not record itself."""
        try:
            for attempt in session.transaction_manager.attempts(10):
                with attempt:
                    change_log(session.root).append(
                        "reject",
                        target=result.receiver,
                        target_name=result.receiver_name,
                        selector=result.selector or "(proposal)",
                        version=0,
                        source="",
                        provenance={
                            "author": "autotelic",
                            "act": self.seq,
                            "reason": result.reason,
                            "intent": result.intent,
                            "check": result.check,
                            "backend": self.compiler.backend.name,
                            "model": self.compiler.backend.model_id,
                        },
                    )
        except Exception:
            log.exception("could not record the rejection of act %d", self.seq)

    def _finish(self, session: Session, result: ActResult) -> None:
        try:
            for attempt in session.transaction_manager.attempts(10):
                with attempt:
                    autotelic_state(session.root).finish(
                        self.seq, result.outcome, finished=self.clock(), **result.fields()
                    )
        except Exception:
            log.exception("could not record the end of act %d", self.seq)
