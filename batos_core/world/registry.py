"""The daemons of a shared world, as the world knows them: each registers itself and beats.

Every daemon of a ``zeo://`` or ``postgresql://`` world keeps an entry in the
root's ``batos.daemons`` table: host, pid, instance, incarnation, endpoint,
start time and the time of its last beat. A thread of the daemon (with its
own connection) rewrites the entry every `BEAT_S` seconds and, in the same
transaction, reads the whole table into `snapshot`, which `batos daemon
status` shows without touching the storage on the event loop. The entry is
removed when the daemon closes; a daemon killed with -9 leaves one whose beat
gets old: it is shown as silent, and dropped by the others after `FORGET_S`.

ZODB errors in a beat are logged and the next beat tries again: the registry
is information, never a reason for a daemon to stop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from BTrees.OOBTree import OOBTree

log = logging.getLogger(__name__)

REGISTRY_KEY = "batos.daemons"
BEAT_S = 5.0
#: A daemon silent this long is shown as silent.
SILENT_AFTER_S = 3 * BEAT_S
#: A daemon silent this long is removed from the registry by the others.
FORGET_S = 3600.0
_ATTEMPTS = 10


class DaemonRegistry:
    """This daemon's entry `key` with `facts` (plain values) in the world behind `db`. Thread-safe."""

    def __init__(self, db: Any, key: str, facts: dict[str, Any], beat_s: float = BEAT_S) -> None:
        self._db = db
        self.key = key
        self.facts = dict(facts)
        self.beat_s = beat_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._snapshot: list[dict[str, Any]] = []

    def start(self) -> None:
        """Register now (errors propagate: the storage must work at a daemon's start), then beat."""
        self._beat()
        self._thread = threading.Thread(target=self._run, name="world registry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove this daemon's entry. Never raises."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        connected = getattr(self._db.storage, "is_connected", None)
        if connected is not None and not connected():
            log.warning(
                "the storage server is gone: this daemon stays in the world's registry until it ages out"
            )
            return
        try:
            self._transact(self._remove)
        except Exception:
            log.exception("could not remove this daemon from the world's registry")

    def snapshot(self) -> list[dict[str, Any]]:
        """Every daemon of the world as of the last beat, with ``silent_s`` (seconds since
        its beat) and ``self`` (this daemon), oldest start first."""
        with self._lock:
            return [dict(entry) for entry in self._snapshot]

    def _run(self) -> None:
        while not self._stop.wait(self.beat_s):
            try:
                self._beat()
            except Exception:
                log.exception("could not beat into the world's registry")

    def _beat(self) -> None:
        entries = self._transact(self._write)
        now = time.time()
        shown = []
        for key, entry in entries:
            silent = max(0.0, now - float(entry.get("beat", 0.0)))
            shown.append({**entry, "silent_s": round(silent, 1), "self": key == self.key})
        shown.sort(key=lambda entry: float(entry.get("started", 0.0)))
        with self._lock:
            self._snapshot = shown

    def _transact(self, change: Any) -> Any:
        from batos_core.image import Session

        with Session(self._db) as session:
            result = None
            for attempt in session.transaction_manager.attempts(_ATTEMPTS):
                with attempt:
                    result = change(session.root)
        return result

    def _write(self, root: Any) -> list[tuple[str, dict[str, Any]]]:
        table = root.get(REGISTRY_KEY)
        if table is None:
            table = root[REGISTRY_KEY] = OOBTree()
        now = time.time()
        table[self.key] = {**self.facts, "beat": now}
        for key, entry in list(table.items()):
            if key != self.key and now - float(entry.get("beat", 0.0)) > FORGET_S:
                del table[key]
        return [(str(key), dict(entry)) for key, entry in table.items()]

    def _remove(self, root: Any) -> None:
        table = root.get(REGISTRY_KEY)
        if table is not None and self.key in table:
            del table[self.key]
