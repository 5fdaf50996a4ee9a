"""A named lease in a shared world: at most one daemon holds it, and it expires.

The autotelic loop uses one (``autotelic``) so that, of all the daemons of a
world, one at a time runs an act. The lease is an entry of the root's
``batos.leases`` table: (holder, end time). `acquire` takes it when it is
free, expired or already ours, in one transaction on a connection of its
own (two daemons taking it at once conflict; the retry sees the winner), and
then renews it every third of its length from a thread until `release`. A
daemon killed while holding it blocks the others for at most one lease.

End times are wall-clock seconds: the daemons' clocks should agree.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from BTrees.OOBTree import OOBTree

log = logging.getLogger(__name__)

LEASES_KEY = "batos.leases"
DEFAULT_LEASE_S = 60.0
_ATTEMPTS = 20


class WorldLease:
    """The lease `name` of the world behind `db`, for `holder`. Thread-safe.

    ZODB errors from `acquire` propagate (ConflictError after retries too);
    `release` and renewals log theirs: the lease then just runs out.
    """

    def __init__(self, db: Any, name: str, holder: str, lease_s: float = DEFAULT_LEASE_S) -> None:
        self._db = db
        self.name = name
        self.holder = holder
        self.lease_s = lease_s
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._renewal: threading.Thread | None = None

    def acquire(self) -> str | None:
        """Take the lease: None on success, else the holder that has it now."""
        other = self._update(take=True)
        if other is None:
            with self._lock:
                if self._renewal is None:
                    self._stop = threading.Event()
                    self._renewal = threading.Thread(
                        target=self._renew, args=(self._stop,), name=f"lease {self.name}", daemon=True
                    )
                    self._renewal.start()
        return other

    def release(self) -> None:
        """Stop renewing and give the lease back (if still ours). Never raises."""
        with self._lock:
            stop, renewal = self._stop, self._renewal
            self._stop = self._renewal = None
        if stop is not None and renewal is not None:
            stop.set()
            renewal.join()
        try:
            self._update(take=False)
        except Exception:
            log.exception("could not release the lease %s", self.name)

    def _renew(self, stop: threading.Event) -> None:
        while not stop.wait(self.lease_s / 3):
            try:
                other = self._update(take=True)
            except Exception:
                log.exception("could not renew the lease %s", self.name)
                continue
            if other is not None:
                log.warning("lease %s was taken by %s while %s held it", self.name, other, self.holder)

    def _update(self, *, take: bool) -> str | None:
        from batos_core.image import Session

        with Session(self._db) as session:
            other: str | None = None
            for attempt in session.transaction_manager.attempts(_ATTEMPTS):
                with attempt:
                    other = self._apply(session.root, take)
        return other

    def _apply(self, root: Any, take: bool) -> str | None:
        leases = root.get(LEASES_KEY)
        if leases is None:
            if not take:
                return None
            leases = root[LEASES_KEY] = OOBTree()
        current = leases.get(self.name)
        ours = current is not None and current[0] == self.holder
        if not take:
            if ours:
                del leases[self.name]
            return None
        if current is not None and not ours and current[1] >= time.time():
            return str(current[0])
        leases[self.name] = (self.holder, time.time() + self.lease_s)
        return None
