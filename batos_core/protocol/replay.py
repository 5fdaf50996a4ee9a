"""Replay protection for the receiving side of a signed channel (standard library only)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batos_core.protocol.constants import DEFAULT_SKEW_NS, DEFAULT_WINDOW_NS
from batos_core.protocol.errors import Replayed, Stale
from batos_core.protocol.signing import Envelope

DEFAULT_MAX_SESSIONS = 4096


@dataclass
class _SessionState:
    counter: int  # highest counter accepted
    max_ts_ns: int  # newest timestamp accepted


class ReplayGuard:
    """Rejects replayed and stale envelopes with bounded memory.

    Rules, applied to envelopes whose signature has already been verified:

    1. ``ts_ns`` older than the guard's start time minus ``skew_ns`` is
       :class:`Stale`: this rejects, after a daemon restart, messages captured
       before it (the new guard knows no counters from the old process).
    2. ``ts_ns`` further than ``window_ns`` from the receiver's clock (in either
       direction) is :class:`Stale`.
    3. Per session, ``counter`` must be strictly greater than the highest one
       accepted so far, else :class:`Replayed`.

    Memory: at most ``max_sessions`` sessions are remembered (least recently
    used first out). A session whose newest timestamp has left the window is
    dropped for free (anything it could replay is stale). When a live session
    must be evicted for room, its newest timestamp raises a floor: an unknown
    session's envelope not newer than the floor is :class:`Stale`, so evicting
    never re-opens a replay. Not thread-safe: one guard per receiving loop.
    """

    def __init__(
        self,
        *,
        window_ns: int = DEFAULT_WINDOW_NS,
        skew_ns: int = DEFAULT_SKEW_NS,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Callable[[], int] = time.time_ns,
        start_ns: int | None = None,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.window_ns = window_ns
        self.skew_ns = skew_ns
        self.max_sessions = max_sessions
        self._clock = clock
        self.start_ns = clock() if start_ns is None else start_ns
        self._sessions: OrderedDict[str, _SessionState] = OrderedDict()
        self._floor_ns = -1

    def __len__(self) -> int:
        return len(self._sessions)

    def export_state(self) -> dict[str, Any]:
        """What another process needs to continue this guard (JSON-compatible).

        A daemon hand-over (``batos upgrade``) passes it to the new daemon, whose
        guard then accepts exactly what this one would have: envelopes signed
        during the hand-over get through at once, and nothing this guard
        accepted can be replayed to its successor.
        """
        return {
            "start_ns": self.start_ns,
            "floor_ns": self._floor_ns,
            "sessions": [[name, s.counter, s.max_ts_ns] for name, s in self._sessions.items()],
        }

    @classmethod
    def from_state(cls, state: Any, **options: Any) -> ReplayGuard:
        """A guard continuing :meth:`export_state`'s ``state``; ``options`` as for the
        constructor (``start_ns`` comes from the state). Raises ``ValueError`` if
        ``state`` is not such a mapping."""
        try:
            guard = cls(start_ns=_int(state["start_ns"]), **options)
            guard._floor_ns = _int(state["floor_ns"])
            for name, counter, max_ts_ns in state["sessions"]:
                if not isinstance(name, str):
                    raise ValueError("session names are strings")
                guard._sessions[name] = _SessionState(_int(counter), _int(max_ts_ns))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a replay guard state: {exc!r}") from None
        return guard

    def check(self, envelope: Envelope) -> None:
        """Accept ``envelope`` and record it, or raise :class:`Stale` / :class:`Replayed`.

        Nothing is recorded for a rejected envelope.
        """
        now = self._clock()
        self._check_fresh(envelope, now)
        state = self._sessions.get(envelope.session)
        if state is None:
            if envelope.ts_ns <= self._floor_ns:
                raise Stale("unknown session older than the newest forgotten one")
            self._make_room(now)
            self._sessions[envelope.session] = _SessionState(envelope.counter, envelope.ts_ns)
            return
        if envelope.counter <= state.counter:
            raise Replayed(
                f"counter {envelope.counter} not above {state.counter} for session {envelope.session[:8]}"
            )
        state.counter = envelope.counter
        state.max_ts_ns = max(state.max_ts_ns, envelope.ts_ns)
        self._sessions.move_to_end(envelope.session)

    def _check_fresh(self, envelope: Envelope, now: int) -> None:
        if envelope.ts_ns < self.start_ns - self.skew_ns:
            raise Stale("timestamp before the receiver started")
        if abs(now - envelope.ts_ns) > self.window_ns:
            raise Stale(f"timestamp {(now - envelope.ts_ns) / 1e9:+.1f} s away from now")

    def _make_room(self, now: int) -> None:
        expired_before = now - self.window_ns
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if oldest.max_ts_ns >= expired_before and len(self._sessions) < self.max_sessions:
                return
            _, evicted = self._sessions.popitem(last=False)
            if evicted.max_ts_ns >= expired_before:
                self._floor_ns = max(self._floor_ns, evicted.max_ts_ns)


def _int(value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"expected an integer, got {type(value).__name__}")
    return value
