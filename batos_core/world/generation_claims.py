"""One generation per miss across the daemons of a shared world: a claim with a lease.

Two daemons that miss the same selector on the same receiver at once would
each ask their model and install a method. `ClaimedMisses` is a miss hook
(`batos_core.jit.misses.MissHook`) that the composition root
(`daemon.lifecycle`) puts in front of the JIT's ``on_miss`` on a shared world,
so that only the daemon holding the claim generates. Order of events for a
miss (on the worker thread, outside any request transaction: dispatch calls
the hook after its abort):

1. In a transaction of its own, the daemon reads the claim of
   (receiver, selector) in the world's claim table (``batos.generation_claims``
   in the root). None, or one whose lease has expired (its daemon died
   mid-generation), is taken: this daemon's id and a lease end are written and
   committed. Two daemons taking it at once conflict on the entry; the retry
   sees the winner's claim.
2. The holder runs the real hook, renewing the lease every third of it from a
   thread with its own connection, and deletes the claim afterwards, whether
   the generation installed a method or failed.
3. A daemon that finds a live claim of another waits, emitting a ``phase``
   event (``waiting``) at least every 2 s so that its client's timeout
   measures silence, not work, and checking the claim every `POLL_S`. When the
   claim is gone it answers True: dispatch re-runs the request, which finds
   the installed method, or misses again (the holder's generation failed) and
   comes back here to claim it. When the lease runs out first, it takes the
   claim over (1). A cancel of the request ends the wait (GenerationCancelled).

Lease end times are wall-clock seconds (`time.time`): daemons on several
machines compare them, so their clocks should agree to well within a lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from BTrees.OOBTree import OOBTree

from batos_core.jit.backends.base import GenerationCancelled
from batos_core.jit.misses import MissContext, MissHook
from batos_core.objects import SlotNotFound

log = logging.getLogger(__name__)

CLAIMS_KEY = "batos.generation_claims"
#: Seconds a claim holds without renewal (BATOS_GENERATION_LEASE overrides).
DEFAULT_LEASE_S = 60.0
POLL_S = 0.1
KEEPALIVE_S = 1.0
_ATTEMPTS = 20

def lease_from_env() -> float:
    """The lease: ``BATOS_GENERATION_LEASE`` seconds, else DEFAULT_LEASE_S. ValueError if not > 0."""
    raw = os.environ.get("BATOS_GENERATION_LEASE", "")
    lease = float(raw) if raw else DEFAULT_LEASE_S
    if not lease > 0:
        raise ValueError(f"BATOS_GENERATION_LEASE must be a positive number of seconds, not {raw!r}")
    return lease


def holder_id() -> str:
    """This daemon process among all those of the world: host, pid and a random part."""
    return f"{socket.gethostname()}/{os.getpid()}/{os.urandom(4).hex()}"


class ClaimedMisses:
    """A miss hook that runs `generate` (the JIT's) only under the world's claim (see the module docstring).

    Errors of `generate` propagate after the claim is released.
    """

    def __init__(
        self, generate: MissHook, *, holder: str | None = None, lease_s: float | None = None
    ) -> None:
        self._generate = generate
        self.holder = holder or holder_id()
        self.lease_s = lease_s if lease_s is not None else lease_from_env()

    def __call__(self, miss: SlotNotFound, ctx: MissContext, request: object) -> bool:
        key = f"{miss.receiver_oid} {miss.selector}"
        tm = ctx.session.transaction_manager
        last_event = 0.0
        while True:
            other = self._claim(ctx.session, key)
            if other is None:
                break
            log.info("miss %s: claimed by %s; waiting for its install", key, other)
            while self._claim_of(ctx.session, key) == other:
                now = time.monotonic()
                if now - last_event >= KEEPALIVE_S:
                    ctx.emit("phase", {"phase": "waiting", "selector": miss.selector, "holder": other[0]})
                    last_event = now
                if ctx.cancel.wait(POLL_S):
                    raise GenerationCancelled("")  # nothing generated here; dispatch answers `cancelled`
                if other[1] < time.time():
                    log.warning("miss %s: the claim of %s expired; taking it over", key, other[0])
                    break
            else:
                tm.abort()
                return True  # released: re-run the request, which finds the method (or claims it)
        try:
            with self._renewing(ctx.session, key):
                return self._generate(miss, ctx, request)
        finally:
            self._release(ctx.session, key)

    def _claim(self, session: Any, key: str) -> tuple[str, float] | None:
        """Take the claim of `key` (None), or the live claim of another daemon."""
        tm = session.transaction_manager
        other: tuple[str, float] | None = None
        for attempt in tm.attempts(_ATTEMPTS):
            with attempt:
                claims = _table(session.root)
                current = claims.get(key)
                if current is not None and current[0] != self.holder and current[1] >= time.time():
                    other = (str(current[0]), float(current[1]))  # nothing written: commits nothing
                else:
                    other = None
                    claims[key] = (self.holder, time.time() + self.lease_s)
        return other

    def _claim_of(self, session: Any, key: str) -> tuple[str, float] | None:
        tm = session.transaction_manager
        tm.begin()  # a fresh view: the other daemon's commits are seen
        try:
            claims = session.root.get(CLAIMS_KEY)
            current = None if claims is None else claims.get(key)
            return None if current is None else (str(current[0]), float(current[1]))
        finally:
            tm.abort()

    def _release(self, session: Any, key: str) -> None:
        tm = session.transaction_manager
        tm.abort()
        try:
            for attempt in tm.attempts(_ATTEMPTS):
                with attempt:
                    claims = _table(session.root)
                    current = claims.get(key)
                    if current is not None and current[0] == self.holder:
                        del claims[key]
        except Exception:
            # Not fatal: the lease runs out and another daemon takes the claim.
            log.exception("could not release the generation claim %s", key)

    @contextmanager
    def _renewing(self, session: Any, key: str) -> Iterator[None]:
        """Renew the claim every third of the lease from a thread with its own connection."""
        from batos_core.image import Session

        db = session.connection.db()
        done = threading.Event()

        def renew() -> None:
            with Session(db) as own:
                while not done.wait(self.lease_s / 3):
                    try:
                        for attempt in own.transaction_manager.attempts(_ATTEMPTS):
                            with attempt:
                                claims = _table(own.root)
                                current = claims.get(key)
                                if current is not None and current[0] == self.holder:
                                    claims[key] = (self.holder, time.time() + self.lease_s)
                    except Exception:
                        log.exception("could not renew the generation claim %s", key)

        thread = threading.Thread(target=renew, name=f"claim-renewal {key}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()


def _table(root: Any) -> Any:
    claims = root.get(CLAIMS_KEY)
    if claims is None:
        claims = root[CLAIMS_KEY] = OOBTree()
    return claims
