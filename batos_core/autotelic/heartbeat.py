"""The heartbeat: a daemon task that notices idleness and stagnation and then starts one act.

It runs on the daemon's event loop but does nothing there that could block
request handling: each wake-up is a few comparisons; computing the CEM and
starting an act go to a thread (`asyncio.to_thread`), and the act itself runs
on its own thread. Decisions use the service's injectable clock; the wake-up
cadence (`tick_s`) is real time, and `poke()` wakes it early (tests, `on`).

Rules, in order, at each wake-up:
1. nothing while autotelic is off, an act runs, or there is no model;
2. sample the CEM every `sample_s` (for the trend), and once more when idle
   begins if the last sample predates the last request;
3. right after a sample, act only when idle (no user request for `idle_s`) and stagnating (CEM
   below `threshold`, or fallen by more than `fall_delta` within `window_s`)
   and the budgets allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from batos_core.autotelic.config import AutotelicConfig

if TYPE_CHECKING:
    from batos_core.autotelic.service import AutotelicService

log = logging.getLogger(__name__)


def stagnation(trend: Sequence[tuple[float, float]], config: AutotelicConfig) -> str:
    """Why the metric stagnates (``""`` if it does not), from (time, CEM) samples, oldest first."""
    if not trend:
        return ""
    now, value = trend[-1]
    if value < config.threshold:
        return f"CEM {value:.3f} is below the threshold {config.threshold:.3f}"
    window = [v for t, v in trend if t >= now - config.window_s]
    if window and max(window) - value > config.fall_delta:
        return f"CEM fell from {max(window):.3f} to {value:.3f} within {config.window_s:g} s"
    return ""


class Heartbeat:
    """The loop task; `run()` until cancelled."""

    def __init__(self, service: AutotelicService) -> None:
        self.service = service
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_sample = float("-inf")
        self.last_decision = ""
        self.ticks = 0

    async def run(self) -> None:
        """Wake every `tick_s` (or on `poke`) and `tick`; errors are logged, never fatal."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.service.config.tick_s)
            self._wake.clear()
            try:
                await self.tick()
            except Exception:  # the heartbeat outlives one bad tick; the log says what broke
                log.exception("autotelic heartbeat tick failed")

    def poke(self) -> None:
        """Wake the loop now (thread-safe; a no-op before `run` started)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def tick(self) -> None:
        """One decision (see the module docstring)."""
        self.ticks += 1
        service = self.service
        config = service.config
        if not service.enabled or service.running or service.compiler is None:
            return
        now = service.clock()
        idle = service.activity.idle_for() >= config.idle_s
        stale = self._last_sample < service.activity.last_request
        if not (now - self._last_sample >= config.sample_s or (idle and stale)):
            return  # decisions follow samples: a refused act is retried a sample later, not every tick
        await asyncio.to_thread(service.sample)
        self._last_sample = now
        if not idle:
            return
        why = stagnation(list(service.trend), config)
        if not why:
            self.last_decision = "idle, CEM not stagnating"
            return
        seq, message = await asyncio.to_thread(service.start_act, f"idle; {why}")
        self.last_decision = message
        if seq is None:
            log.debug("no autotelic act: %s", message)
