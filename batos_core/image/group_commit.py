"""Group commit for FileStorage: fsync after the commit lock is released, shared by concurrent commits.

ZODB's FileStorage fsyncs every transaction inside ``tpc_finish``, while it
holds the storage's commit lock: on the project's 2-core VM an fsync takes
0.27-0.6 ms, and for that time no other transaction can vote or finish, so
concurrent writers queue behind each other's disk flushes.
`GroupCommitFileStorage` finishes a transaction without the fsync (the data
is written and flushed to the OS, the index and last tid are updated as
before) and `wait_durable` makes it durable afterwards, outside the lock: the
first thread to wait fsyncs everything finished so far, and threads that
finished meanwhile wait for that fsync or share the next one. fsync runs
without the GIL, so other workers execute while one waits for the disk.

The guarantee a client sees is unchanged: nothing is answered before it is
on disk. Each `Session`'s transaction manager calls `wait_durable` when a
transaction ends (committed or aborted), or, on a thread that defers (below),
before the thread next sends anything; so a worker's reply leaves only after
its own commit, and every commit it could have read, is durable. What
changes is that a commit becomes visible to other connections a moment
before it is durable; any answer built on it waits as just said. A power
failure in between loses the not-yet-durable suffix of the file, and with
it only transactions nobody was told about; if that leaves a transaction
cut short, the next open refuses the image (`damage`) and ``batos image
recover`` drops the cut transaction. (A process that dies keeps everything
it wrote: the OS has it.)

Every file FileStorage creates (the data file, ``.index``, ``.lock``,
``.tmp``, ``.pack``, ``.old``, ``.trN``) is created under umask 077, and the
ones found already there are tightened to 0600 at open (see
`batos_core.private_files`).

A thread about to wait for the disk tells a hook of its own first
(`before_disk_waits`), with how long recent fsyncs took: the daemon's worker
that holds the listener role hands it on when the wait will be long and
other requests wait, so concurrent commits still share an fsync on a slow
disk (see `batos_core.daemon.workers`).

A thread may also put the wait off (`defer_durability`): its transactions'
ends then add their storage to a `DiskDebt` instead of waiting, and the
thread settles the debt (`settle_durability`, or `DiskDebt.take` and
`GroupCommitFileStorage.wait_durable`) before it sends anything that could
depend on them. The daemon's transport settles before every send, so the
rule above holds on every path out; the worker that holds the listener role
uses the delay to run the requests that wait before the fsync, so that one
fsync covers them all (see `batos_core.daemon.workers`).

If fsync fails, the process logs and exits at once (status 74, EX_IOERR):
retrying an fsync after a failure is not safe (the kernel may have dropped
the dirty pages; PostgreSQL made the same choice in 2018), and exiting
before any reply means no client was told of a write that is not on disk.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ZODB.FileStorage import FileStorage

from batos_core.private_files import private_umask, tighten

log = logging.getLogger(__name__)

#: The files a FileStorage keeps beside its data file ("" is the data file itself).
COMPANION_SUFFIXES = ("", ".index", ".lock", ".tmp", ".old", ".pack")

#: Exit status when fsync fails (sysexits.h EX_IOERR).
EXIT_FSYNC_FAILED = 74


#: Per thread: what `before_disk_waits` set (see `about_to_wait_for_disk`).
_waiting = threading.local()


def before_disk_waits(hook: Callable[[float], None] | None) -> None:
    """Have `hook(expected_s)` called on this thread each time it is about to wait
    for the disk in `wait_durable`; `expected_s` is how long recent fsyncs took.
    None removes it."""
    _waiting.hook = hook


def about_to_wait_for_disk(expected_s: float) -> None:
    """Call this thread's hook (`before_disk_waits`), if it has one."""
    hook: Callable[[float], None] | None = getattr(_waiting, "hook", None)
    if hook is not None:
        hook(expected_s)


class DiskDebt:
    """The storages whose durability a thread's ended transactions still wait for,
    while the thread defers that wait (`defer_durability`). Not thread-safe: used
    by its own thread, or under its owner's lock."""

    def __init__(self) -> None:
        self._storages: list[GroupCommitFileStorage] = []

    def __bool__(self) -> bool:
        return bool(self._storages)

    def owe(self, storage: GroupCommitFileStorage) -> None:
        if storage not in self._storages:
            self._storages.append(storage)

    def take(self) -> list[GroupCommitFileStorage]:
        """What is owed so far; the debt is empty after. Waiting for each (`wait_durable`,
        on any thread) settles what was taken."""
        storages, self._storages = self._storages, []
        return storages


#: Per thread: the debt `defer_durability` set (see `DurableReplies`).
_deferring = threading.local()


def defer_durability(debt: DiskDebt | None) -> None:
    """From now on, a transaction ending on this thread adds its storage to `debt`
    instead of waiting until it is durable; None: transactions wait again."""
    _deferring.debt = debt


def settle_durability() -> None:
    """Wait until what this thread's deferred transactions wrote or read is on disk
    (nothing to do on a thread that does not defer, or owes nothing)."""
    debt: DiskDebt | None = getattr(_deferring, "debt", None)
    if debt:
        for storage in debt.take():
            storage.wait_durable()


#: Weight of the newest fsync in `GroupCommitFileStorage.fsync_s`.
_FSYNC_WEIGHT = 0.2


def _die(exc: BaseException) -> None:
    log.critical("fsync of the image failed (%s): exiting before any reply depends on it", exc)
    logging.shutdown()
    os._exit(EXIT_FSYNC_FAILED)


class GroupCommitFileStorage(FileStorage):  # type: ignore[misc]  # ZODB ships no type hints
    """A FileStorage whose transactions are made durable by `wait_durable`, in groups."""

    def __init__(
        self,
        *args: Any,
        fsync: Callable[[int], None] = os.fsync,
        on_fsync_failure: Callable[[BaseException], None] = _die,
        **kwargs: Any,
    ) -> None:
        self._fsync = fsync
        self._on_fsync_failure = on_fsync_failure
        self._durability = threading.Condition(threading.Lock())
        self._finished = 0  # transactions finished (written and flushed to the OS)
        self._durable = 0  # of those, how many an fsync has covered
        self._syncing = False
        self.fsyncs = 0  # fsync calls made by wait_durable (commits / fsyncs = group size)
        self.fsync_s = 0.0  # how long an fsync takes, recently (a moving average)
        with private_umask():
            super().__init__(*args, **kwargs)
        for suffix in COMPANION_SUFFIXES:
            tighten(Path(self._file_name + suffix))

    def _save_index(self) -> None:
        with private_umask():
            super()._save_index()

    def pack(self, *args: Any, **kwargs: Any) -> Any:
        with private_umask():
            return super().pack(*args, **kwargs)

    def _finish_finish(self, tid: bytes) -> None:
        # FileStorage._finish_finish (ZODB 6) without its fsync; called under the
        # commit lock. A test compares this with ZODB's own.
        self._file.flush()
        self._pos = self._nextpos
        self._index.update(self._tindex)
        self._ltid = tid
        self._blob_tpc_finish()
        self._finished += 1

    def all_durable(self) -> bool:
        """Whether every transaction finished so far is on disk."""
        return self._durable >= self._finished

    def wait_durable(self) -> None:
        """Return once every transaction finished so far is on disk.

        One fsync covers all transactions finished before it started; a
        thread that finds one running waits for it, then fsyncs again only if
        its own transaction was finished after that fsync began.
        """
        target = self._finished
        if self._durable >= target:  # (ints: a read without the lock is safe, and rechecked below)
            return
        about_to_wait_for_disk(self.fsync_s)
        with self._durability:
            while self._durable < target:
                if self._syncing:
                    self._durability.wait()
                    continue
                self._syncing = True
                covers = self._finished
                self._durability.release()
                started = time.monotonic()
                try:
                    self._fsync(self._file.fileno())
                except BaseException as exc:
                    self._on_fsync_failure(exc)
                    raise
                finally:
                    self._durability.acquire()
                    self._syncing = False
                    self._durability.notify_all()
                took = time.monotonic() - started
                self.fsync_s += _FSYNC_WEIGHT * (took - self.fsync_s)
                self.fsyncs += 1
                self._durable = max(self._durable, covers)

    def close(self) -> None:
        # Transactions finished by a thread that never waited (ZODB's own root
        # creation, say) still reach the disk.
        if not self._is_read_only and self._file is not None and not self._file.closed:
            self.wait_durable()
        super().close()


class DurableReplies:
    """A transaction synchronizer: when a transaction ends, wait until the data it
    could have seen is durable, or, on a thread that defers, owe it (see the
    module docstring)."""

    def __init__(self, storage: GroupCommitFileStorage) -> None:
        self._storage = storage

    def beforeCompletion(self, transaction: Any) -> None:  # the ISynchronizer interface
        pass

    def afterCompletion(self, transaction: Any) -> None:
        storage = self._storage
        if storage.all_durable():
            return
        debt: DiskDebt | None = getattr(_deferring, "debt", None)
        if debt is None:
            storage.wait_durable()
        else:
            debt.owe(storage)

    def newTransaction(self, transaction: Any) -> None:
        pass
