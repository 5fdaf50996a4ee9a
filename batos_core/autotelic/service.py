"""What the daemon holds: activity, the image tracker, the heartbeat and the act in progress.

The daemon makes one `AutotelicService` when it opens the image, with the JIT
compiler the composition root (`daemon.lifecycle`) built and the daemon's miss
events, to which the service's activity subscribes until `close()`. The
daemon feeds it every request (`on_request`), runs `heartbeat.run()` as a
task while serving, and calls `close()` before closing the image. Handlers
reach it as ``ctx.info.autotelic``.

Pre-emption: any user request (not the monitoring ones) sets the running
act's cancel switch; the act stops at its next safe point (between tokens,
or before installing) and is recorded as cancelled. `set_enabled(False)`
does the same, so ``off`` stops an act at once.

On a shared world (ZEO, PostgreSQL) an act runs only under the world's
``autotelic`` lease (`batos_core.world.lease`): of all the daemons of the
world, one at a time runs an act; the others' `start_act` says who has it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from batos_core.autotelic.act import Act
from batos_core.autotelic.activity import ActivityTracker
from batos_core.autotelic.budget import BudgetStatus, budget_status
from batos_core.autotelic.cem import CemReading, combine
from batos_core.autotelic.config import AutotelicConfig
from batos_core.autotelic.heartbeat import Heartbeat
from batos_core.autotelic.state import autotelic_state
from batos_core.autotelic.tracker import ImageTracker
from batos_core.image import Image
from batos_core.jit.misses import MissEvents
from batos_core.jit.pipeline import JitCompiler
from batos_core.world.lease import WorldLease

log = logging.getLogger(__name__)

Clock = Callable[[], float]
JOIN_TIMEOUT_S = 30.0


def _world_lease(image: Image) -> WorldLease | None:
    """The world's ``autotelic`` lease for this daemon, on a shared world; else None."""
    from batos_core.places import SHARED_SCHEMES

    if image.spec.scheme not in SHARED_SCHEMES:
        return None
    from batos_core.world.generation_claims import holder_id
    from batos_core.world.lease import WorldLease

    return WorldLease(image.db, "autotelic", holder_id())


class _Running:
    def __init__(self, seq: int, cancel: threading.Event, thread: threading.Thread) -> None:
        self.seq = seq
        self.cancel = cancel
        self.thread = thread


class AutotelicService:
    """See the module docstring. Thread-safe.

    `compiler`: the daemon's JIT, which acts use (None: no model, no acts);
    `misses`: the daemon's miss events (None: misses are not counted).
    """

    def __init__(
        self,
        image: Image,
        compiler: JitCompiler | None,
        config: AutotelicConfig | None = None,
        *,
        enabled: bool = False,
        clock: Clock = time.time,
        misses: MissEvents | None = None,
    ) -> None:
        self.image = image
        self.compiler = compiler
        self.config = config or AutotelicConfig()
        self.enabled = enabled
        self._clock = clock
        self.activity = ActivityTracker(clock, self.config.recent_messages)
        path = image.path
        self.tracker = ImageTracker(
            image.db,
            recent_installs=self.config.recent_installs,
            cache_path=path.with_name(path.name + ".cem") if path is not None else None,
        )
        self.heartbeat = Heartbeat(self)
        self.trend: deque[tuple[float, float]] = deque(maxlen=self.config.trend_size)
        self._lock = threading.Lock()
        self._running: _Running | None = None
        self._closed = False
        self._world_lease = _world_lease(image)
        self._unsubscribe = misses.subscribe(self.activity.on_miss) if misses is not None else None
        self._recover()
        if enabled:
            self.warm_up()

    # -- clock ---------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        """Replace the clock everywhere (tests drive time with it)."""
        self._clock = clock
        self.activity.clock = clock
        self.activity.touch()

    # -- the metric ----------------------------------------------------------

    def reading(self) -> CemReading:
        """The CEM now (refreshing the image summary incrementally).

        ZODB errors propagate; RuntimeError once `close()` ran (the daemon is stopping).
        """
        if self._closed:
            raise RuntimeError("the daemon is stopping")
        summary = self.tracker.refresh()
        diversity, competence, facts = self.activity.components()
        components = {
            "structural": summary.structural_entropy(),
            "novelty": summary.solution_novelty(),
            "diversity": diversity,
            "competence": competence,
        }
        facts.update(
            objects=float(summary.objects),
            slots=float(summary.slots),
            methods=float(summary.methods),
            installs_seen=float(summary.installs_seen),
            scan_seconds=round(self.tracker.scan_seconds, 3),
        )
        return combine(components, self.config.weights, self.clock(), facts)

    def warm_up(self) -> None:
        """Do the tracker's one full scan now, on a background thread, so the first
        `batos cem` or heartbeat sample does not pay for it. Errors are logged."""

        def scan() -> None:
            try:
                self.tracker.refresh()
            except Exception:
                log.exception("the CEM tracker's first scan failed (it is retried on the next reading)")

        threading.Thread(target=scan, name="batos-cem-scan", daemon=True).start()

    def sample(self) -> CemReading:
        """A reading, appended to the trend."""
        reading = self.reading()
        self.trend.append((reading.time, reading.value))
        return reading

    # -- requests ------------------------------------------------------------

    def on_request(self, request_type: str, request_id: str, selector: str | None = None) -> None:
        """Called by the daemon for every request, on the thread that received it (a
        worker, or the event loop); user requests pre-empt acts."""
        if self.activity.on_request(request_type, request_id, selector):
            self.preempt()

    def preempt(self) -> None:
        """Ask the running act, if any, to stop (any thread). Lock-free: one attribute
        read, and setting an Event is thread-safe."""
        running = self._running  # one attribute read; start_act rechecks after publishing
        if running is not None and not running.cancel.is_set():
            log.info("autotelic act %d pre-empted", running.seq)
            running.cancel.set()

    def set_enabled(self, enabled: bool) -> None:
        """Switch the heartbeat on or off; off also stops a running act at once."""
        self.enabled = enabled
        if not enabled:
            self.preempt()
        else:
            self.warm_up()
            self.heartbeat.poke()

    # -- acts ----------------------------------------------------------------

    @property
    def running(self) -> int:
        """The seq of the act in progress, or 0 (lock-free: the heartbeat reads it on the event loop)."""
        running = self._running
        return running.seq if running is not None else 0

    def budget(self) -> BudgetStatus:
        """What the budgets allow now (reads the act record)."""
        with self.image.session() as session:
            return budget_status(
                autotelic_state(session.root).since(self.clock() - 86400.0),
                self.clock(),
                self.config.max_acts_per_hour,
                self.config.max_tokens_per_day,
            )

    def start_act(self, trigger: str) -> tuple[int | None, str]:
        """Start one act on its own thread; returns (seq, message) or (None, why not). Never raises."""
        if self._closed:
            return None, "the daemon is stopping"
        if self.compiler is None:
            return None, "no model backend: this daemon runs without a JIT (--backend none)"
        if self.compiler.settings.review:
            # Acts have no one waiting to approve; with review on they would install unreviewed.
            return None, "review is on (--review): autotelic acts are not started"
        requests_seen = self.activity.requests
        with self._lock:
            if self._running is not None:
                return None, f"act {self._running.seq} is still running"
            try:
                exhausted = self.budget().exhausted
                if exhausted:
                    return None, exhausted
                holder = self._world_lease.acquire() if self._world_lease is not None else None
                if holder is not None:
                    return None, f"another daemon of this world ({holder}) runs the autotelic loop now"
                seq = self._begin(trigger)
            except Exception as exc:
                self._release_world_lease()
                log.exception("could not start an autotelic act")
                return None, f"could not start an act: {exc}"
            cancel = threading.Event()
            act = Act(
                self.image,
                self.compiler,
                seq,
                cem=lambda: self.sample().value,
                proposal_max_tokens=self.config.proposal_max_tokens,
                cancel=cancel,
                clock=self.clock,
            )
            thread = threading.Thread(target=self._run_act, args=(act,), name=f"batos-act-{seq}", daemon=True)
            self._running = _Running(seq, cancel, thread)
            if self.activity.requests != requests_seen:
                cancel.set()  # a user request came in while this act was being set up
            thread.start()
        log.info("autotelic act %d started (%s)", seq, trigger)
        return seq, f"act {seq} started ({trigger})"

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for the running act (if any) to end; True if none runs now."""
        with self._lock:
            running = self._running
        if running is None:
            return True
        running.thread.join(timeout)
        return not running.thread.is_alive()

    def _begin(self, trigger: str) -> int:
        with self.image.session() as session:
            for attempt in session.transaction_manager.attempts(10):
                with attempt:
                    seq = autotelic_state(session.root).begin({"started": self.clock(), "trigger": trigger})
        return seq

    def _run_act(self, act: Act) -> None:
        try:
            act.run()
        finally:
            self._release_world_lease()
            with self._lock:
                self._running = None
            self.activity.touch()  # the next act needs a fresh idle period

    def _release_world_lease(self) -> None:
        if self._world_lease is not None:
            self._world_lease.release()

    def _recover(self) -> None:
        """Close acts a previous daemon left ``running``."""
        try:
            with self.image.session() as session:
                for attempt in session.transaction_manager.attempts(10):
                    with attempt:
                        count = autotelic_state(session.root).mark_interrupted(self.clock())
            if count:
                log.info("marked %d unfinished autotelic act(s) as interrupted", count)
        except Exception:  # read-only or foreign image: nothing to recover, the daemon still serves
            log.exception("could not check for unfinished autotelic acts")

    # -- status --------------------------------------------------------------

    def recent_acts(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest act records (plain dicts)."""
        with self.image.session() as session:
            return list(autotelic_state(session.root).newest_first(limit))

    def close(self) -> None:
        """Stop: cancel and join the running act, release the tracker. Never raises."""
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.preempt()
        if not self.wait_idle(JOIN_TIMEOUT_S):
            log.warning("the autotelic act did not stop within %g s", JOIN_TIMEOUT_S)
        self.tracker.close()
