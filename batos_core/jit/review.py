"""Review of generated methods: proposals that wait for a person's approval.

With review on (``batos daemon start --review``, or ``send_request.review``), a
method that passed vetting and its trial is not installed at once: the
pipeline files a :class:`Proposal` on the daemon's :class:`ReviewBoard` and
waits, outside any transaction, until someone decides (``approve_request``)
or the proposal expires. The board is shared by the worker threads (which
wait) and the event loop (which answers ``approve_request`` and
``proposals_request`` even while every worker is busy), so every method is
thread-safe and none blocks except :meth:`ReviewBoard.wait`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from batos_core.jit.errors import JitError

#: How long a proposal waits for a decision before it counts as rejected.
DEFAULT_REVIEW_TIMEOUT_S = 600.0


class ProposalNotFound(JitError, LookupError):
    """No pending proposal has that id (never made, already decided, or expired)."""


class ReviewClosed(JitError):
    """The board no longer takes proposals (the daemon is shutting down)."""


@dataclass(frozen=True)
class Proposal:
    """A vetted, trialled method waiting for approval."""

    id: str
    target: str  # the holder's oid
    target_name: str  # its lobby name, or ""
    selector: str
    source: str
    trial: dict[str, Any]
    created: float
    expires: float

    def to_wire(self) -> dict[str, Any]:
        """The proposal as plain data (the ``proposal`` event and ``proposals_reply``)."""
        return {
            "proposal": self.id,
            "target": self.target,
            "target_name": self.target_name,
            "selector": self.selector,
            "source": self.source,
            "trial": dict(self.trial),
            "created": self.created,
            "expires": self.expires,
        }


@dataclass(frozen=True)
class Decision:
    """What became of a proposal. ``approver`` is who decided (``timeout`` and
    ``shutdown`` when nobody did); ``reason`` says why it was not installed."""

    approved: bool
    approver: str
    reason: str = ""


@dataclass
class _Pending:
    proposal: Proposal
    decided: threading.Event = field(default_factory=threading.Event)
    decision: Decision | None = None


class ReviewBoard:
    """The daemon's pending proposals.

    ``blocking``: a context manager factory entered while a thread waits for
    a decision. The daemon sets it to its worker pool's `stand_in`, so a
    worker that waits (up to the review timeout) lends its place to another
    thread instead of leaving the daemon a worker short.
    """

    def __init__(self, blocking: Callable[[], AbstractContextManager[None]] = nullcontext) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._closed = ""
        self.blocking = blocking

    def propose(
        self,
        *,
        target: str,
        target_name: str,
        selector: str,
        source: str,
        trial: dict[str, Any],
        timeout_s: float = DEFAULT_REVIEW_TIMEOUT_S,
    ) -> Proposal:
        """File a proposal; it is pending until decided or `timeout_s` passes.

        Raises ReviewClosed once the board is closed.
        """
        now = time.time()
        with self._lock:
            if self._closed:
                raise ReviewClosed(self._closed)
            proposal_id = secrets.token_hex(4)
            while proposal_id in self._pending:
                proposal_id = secrets.token_hex(4)
            proposal = Proposal(
                proposal_id, target, target_name, selector, source, trial, now, now + timeout_s
            )
            self._pending[proposal_id] = _Pending(proposal)
        return proposal

    def wait(self, proposal: Proposal, cancel: threading.Event | None = None) -> Decision:
        """Block until `proposal` is decided, expires, or `cancel` is set; it is
        no longer pending afterwards.

        An expired proposal is a rejection by ``timeout``, a cancelled wait one
        by ``cancelled``. Never raises.
        """
        with self._lock:
            pending = self._pending.get(proposal.id)
        if pending is not None:
            with self.blocking():
                while (left := proposal.expires - time.time()) > 0 and not pending.decided.is_set():
                    if cancel is not None and cancel.is_set():
                        break
                    # Slices, so a cancelled request stops waiting within a tenth of a second.
                    pending.decided.wait(min(left, 0.1) if cancel is not None else left)
        with self._lock:
            # A decision that lands between the timeout and here still counts.
            self._pending.pop(proposal.id, None)
            decision = pending.decision if pending is not None else None
        if decision is None:
            if cancel is not None and cancel.is_set():
                return Decision(False, "cancelled", "the request was cancelled")
            waited = proposal.expires - proposal.created
            return Decision(False, "timeout", f"no decision within {waited:g} s")
        return decision

    def decide(self, proposal_id: str, *, approve: bool, approver: str) -> Proposal:
        """Approve or reject a pending proposal; wakes the pipeline waiting on it.

        Raises ProposalNotFound if it is not pending (or was already decided).
        """
        with self._lock:
            pending = self._pending.get(proposal_id)
            if pending is None or pending.decision is not None:
                raise ProposalNotFound(f"no pending proposal {proposal_id!r}")
            reason = "" if approve else f"rejected in review by {approver}"
            pending.decision = Decision(approve, approver, reason)
        pending.decided.set()
        return pending.proposal

    def pending(self) -> list[Proposal]:
        """Undecided proposals, oldest first."""
        with self._lock:
            waiting = [p.proposal for p in self._pending.values() if p.decision is None]
        return sorted(waiting, key=lambda p: p.created)

    def close(self, reason: str) -> None:
        """Refuse new proposals and reject the pending ones (approver ``shutdown``)."""
        with self._lock:
            self._closed = reason
            waiting = [p for p in self._pending.values() if p.decision is None]
            for pending in waiting:
                pending.decision = Decision(False, "shutdown", reason)
        for pending in waiting:
            pending.decided.set()
