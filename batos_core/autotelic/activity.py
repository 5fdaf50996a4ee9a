"""Recent activity the daemon reports: which messages arrived, which missed, when the last one came.

The daemon calls `on_request` for every validated request, on the thread
that received it (a worker, or the event loop); `on_miss` is subscribed to the daemon's miss events
(`batos_core.jit.misses.MissEvents`) and hears, on a worker, of every message
that was not understood. Both are O(1) under one lock. Only messages (send and eval requests) enter the
ring the diversity and competence components read; any user request counts
for idleness, except the monitoring and control requests of the autotelic
loop itself (watching the loop must not keep it from running).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from batos_core.autotelic.cem import competence, selector_diversity
from batos_core.jit.misses import MissNoticed

Clock = Callable[[], float]

#: Request types that neither count as user activity nor pre-empt an act.
MONITORING_TYPES = frozenset(
    {"status_request", "shutdown_request", "cem_request", "autotelic_request", "dataset_request"}
)
MESSAGE_TYPES = frozenset({"send_request", "eval_request"})


@dataclass
class MessageEntry:
    """One message in the ring: its selector when known (sends; misses of evals) and whether it missed."""

    request_id: str
    selector: str | None
    missed: bool = False


class ActivityTracker:
    """A bounded ring of recent messages plus the time of the last user request."""

    def __init__(self, clock: Clock, size: int = 200) -> None:
        self.clock = clock
        self._size = size
        self._lock = threading.Lock()
        self._ring: deque[MessageEntry] = deque()
        self._by_id: OrderedDict[str, MessageEntry] = OrderedDict()
        self.last_request: float = clock()
        self.requests = 0

    def on_request(self, request_type: str, request_id: str, selector: str | None = None) -> bool:
        """Note a request; returns True if it is user activity (it then also resets idleness)."""
        if request_type in MONITORING_TYPES:
            return False
        with self._lock:
            self.last_request = self.clock()
            self.requests += 1
            if request_type in MESSAGE_TYPES:
                entry = MessageEntry(request_id, selector)
                self._ring.append(entry)
                self._by_id[request_id] = entry
                while len(self._ring) > self._size:
                    old = self._ring.popleft()
                    if self._by_id.get(old.request_id) is old:
                        del self._by_id[old.request_id]
        return True

    def on_miss(self, miss: MissNoticed) -> None:
        """Mark the message of `miss` as not understood (an eval also learns its selector);
        a request the ring does not hold (not a message, or fallen out) is ignored."""
        with self._lock:
            entry = self._by_id.get(miss.request_id)
            if entry is None:
                return
            entry.missed = True
            if entry.selector is None:
                entry.selector = miss.selector

    def idle_for(self) -> float:
        """Seconds (by the clock) since the last user request."""
        with self._lock:
            return max(0.0, self.clock() - self.last_request)

    def touch(self) -> None:
        """Restart the idle timer (after an act, so acts need a fresh idle period each)."""
        with self._lock:
            self.last_request = self.clock()

    def components(self) -> tuple[float, float, dict[str, float]]:
        """(message diversity, competence, facts) over the ring."""
        with self._lock:
            entries = list(self._ring)
        selectors = [e.selector for e in entries if e.selector]
        misses = sum(1 for e in entries if e.missed)
        facts = {"messages": float(len(entries)), "misses": float(misses)}
        return selector_diversity(selectors), competence(len(entries), misses), facts
