"""The vitals file a supervised daemon shares with its supervisor (standard library only).

One small file per image in the runtime dir (``<image id>.vitals``), mapped
into the daemon's memory, written without a system call and read by the
supervisor (`batos_core.daemon.supervisor`) with plain reads, also after the
daemon was killed (the page cache keeps what a ``MAP_SHARED`` mapping wrote).

Layout (little-endian)::

    header (64 bytes): magic, pid, beat counter, beat time (CLOCK_MONOTONIC ns)
    SLOTS slots of SLOT_BYTES: state, thread ident, native thread id,
                               start time (ns), "request id\\x1ftype\\x1freceiver\\x1fselector"

* The event loop calls `Vitals.beat` every `BEAT_INTERVAL_S`: while the
  counter moves, the loop runs. A loop that cannot run (a worker holds the GIL
  in C code) stops it, and that is what the supervisor watches.
* A worker thread calls `Vitals.begin` when it starts a request and
  `Vitals.end` when it is done; after a kill the supervisor matches the busy
  slots' thread idents with the threads of a faulthandler dump. Costs about a
  microsecond per request (measured in `docs/operations.md`).

A daemon opens (and clears) the file when it starts serving; a file that was
never written reads as no beat and no busy worker.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"BATOSVT1"
HEADER = struct.Struct("<8sqQQ")  # magic, pid, counter, monotonic ns
HEADER_BYTES = 64
SLOTS = 64
SLOT_BYTES = 256
_SLOT_HEAD = struct.Struct("<B7xQQQ")  # state, ident, native id, started ns
_TEXT_BYTES = SLOT_BYTES - _SLOT_HEAD.size
_SLOT = struct.Struct(f"<B7xQQQ{_TEXT_BYTES}s")
FILE_BYTES = HEADER_BYTES + SLOTS * SLOT_BYTES
SEPARATOR = "\x1f"
BEAT_INTERVAL_S = 0.5

FREE, IDLE, BUSY = 0, 1, 2


@dataclass(frozen=True)
class Beat:
    """The header: who beats, how often it has, and when it last did."""

    pid: int
    counter: int
    monotonic_ns: int


@dataclass(frozen=True)
class WorkerRecord:
    """One worker thread's slot: the request it runs (``busy``) or last ran."""

    slot: int
    busy: bool
    ident: int  # threading.get_ident(): what faulthandler prints as "Thread 0x..."
    native_id: int  # the kernel's thread id (/proc/PID/task/TID)
    started_ns: int
    request_id: str
    kind: str
    receiver: str
    selector: str


class Vitals:
    """The daemon's side: a mapped vitals file. Thread-safe: the loop beats,
    each worker writes only its own slot."""

    def __init__(self, path: Path) -> None:
        """Create or clear `path` (0600) and map it; raises OSError."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Never shrink it: during `batos upgrade` the old daemon still has it
            # mapped, and a write past the end of a shorter file is a SIGBUS.
            if os.fstat(fd).st_size < FILE_BYTES:
                os.ftruncate(fd, FILE_BYTES)
            self._map = mmap.mmap(fd, FILE_BYTES)
        finally:
            os.close(fd)
        self._map[:] = bytes(FILE_BYTES)  # clears what a previous daemon left
        self.path = path
        self._pid = os.getpid()
        self._counter = 0
        self._local = threading.local()
        self._lock = threading.Lock()
        self._owners: dict[int, threading.Thread] = {}  # slot -> the thread that holds it
        self.beat()

    def beat(self) -> None:
        """Say the event loop ran just now."""
        self._counter += 1
        HEADER.pack_into(self._map, 0, MAGIC, self._pid, self._counter, time.monotonic_ns())

    def begin(self, request_id: str, kind: str, receiver: str, selector: str) -> None:
        """This thread starts running a request (no-op when every slot is taken)."""
        slot = self._slot()
        if slot < 0:
            return
        text = SEPARATOR.join((request_id, kind, receiver, selector)).encode("utf-8", "replace")
        _SLOT.pack_into(
            self._map,
            HEADER_BYTES + slot * SLOT_BYTES,
            BUSY,
            threading.get_ident(),
            threading.get_native_id(),
            time.time_ns(),
            text[:_TEXT_BYTES],
        )

    def end(self) -> None:
        """This thread finished its request."""
        slot: int = getattr(self._local, "slot", -1)
        if slot >= 0:
            self._map[HEADER_BYTES + slot * SLOT_BYTES] = IDLE

    def _slot(self) -> int:
        slot: int | None = getattr(self._local, "slot", None)
        if slot is not None:
            return slot
        with self._lock:
            # Threads come and go (stand-ins): a slot whose thread ended is free again.
            taken = {i for i, thread in self._owners.items() if thread.is_alive()}
            free = [i for i in range(SLOTS) if i not in taken]
            slot = free[0] if free else -1
            if slot >= 0:
                self._owners[slot] = threading.current_thread()
        self._local.slot = slot
        return slot

    def close(self) -> None:
        self._map.close()


def read_beat(path: Path) -> Beat | None:
    """The header of the vitals file at `path`, or None (missing, short, never written)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(HEADER.size)
    except OSError:
        return None
    if len(data) < HEADER.size:
        return None
    magic, pid, counter, monotonic_ns = HEADER.unpack(data)
    return Beat(pid, counter, monotonic_ns) if magic == MAGIC else None


def read_workers(path: Path) -> list[WorkerRecord]:
    """Every claimed slot of the vitals file at `path` ([] if it cannot be read)."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    records = []
    for slot in range(SLOTS):
        offset = HEADER_BYTES + slot * SLOT_BYTES
        if len(data) < offset + SLOT_BYTES:
            break
        state, ident, native_id, started_ns, raw = _SLOT.unpack_from(data, offset)
        if state == FREE:
            continue
        fields = raw.rstrip(b"\0").decode("utf-8", "replace").split(SEPARATOR)
        request_id, kind, receiver, selector = [*fields, "", "", "", ""][:4]
        records.append(
            WorkerRecord(
                slot, state == BUSY, ident, native_id, started_ns, request_id, kind, receiver, selector
            )
        )
    return records
