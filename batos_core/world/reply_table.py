"""Exactly-once: replies of requests that changed the image, stored by request id.

A request that wrote to the image stores its reply in the same transaction as
its writes, so after a crash either both exist or neither. A retry with the
same id (Lazy Pirate) gets the stored reply instead of a second execution.
The table is bounded: `prune` keeps the newest `max_size` entries.

Every committing request rewrites one bucket of this table, so its shape is
chosen for that write: each entry is one ``bytes`` value (the store time, 8
bytes, then the msgpack reply) rather than a tuple, and a bucket holds about
ten entries at the default table size (pickling a bucket costs one
``persistent_id`` call per object in it).

The table is `ReplyBuckets`: `BUCKETS` plain OOBuckets, fixed when the table
is made, and a request id's bucket chosen by a CRC-32 of the id. Two requests
that store into one bucket at once are merged by BTrees' conflict resolution;
two that store the *same* id conflict, so a concurrent second run of a request
retries and finds the first one's reply. It is not a BTree because a BTree
calls ``readCurrent`` on every node above the bucket it writes, and RelStorage
on PostgreSQL takes shared advisory locks for those before the exclusive locks
of the objects written, in oid order. Once a BTree has inner nodes (about 1400
entries), each bucket split writes an inner node whose oid is above that of
the object every request changes (an ``increment``ed counter): the splitting
commit holds the counter and waits for the inner node, while every other
commit holds the inner node shared and waits for the counter. PostgreSQL
broke one such deadlock per second (its ``deadlock_timeout``), and 3 daemons
x 4 clients fell from 30-45 to 2-15 commits/s. The buckets here are never
split and the table object is never written after it is made, so a store
takes no lock but its own bucket's. `ReplyTable`, the BTree of formats 6 and
7, stays only for migration 8, which moves its entries into `ReplyBuckets`.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import ormsgpack
from BTrees.OOBTree import OOBTree, OOBucket
from persistent import Persistent

TABLE_KEY = "batos.replies"
#: Buckets of a new `ReplyBuckets`: about 10 entries each at the default table size of 10 000.
BUCKETS = 1024

_STAMP = struct.Struct(">d")


class ReplyBuckets(Persistent):  # type: ignore[misc]  # persistent ships no type hints
    """request id -> stamp + msgpack reply, in a fixed number of OOBuckets (see the module
    docstring). Only its buckets change; this object is written once, when it is made."""

    def __init__(self, buckets: int = BUCKETS) -> None:
        self.buckets: tuple[Any, ...] = tuple(OOBucket() for _ in range(buckets))

    def _bucket(self, request_id: str) -> Any:
        return self.buckets[zlib.crc32(request_id.encode("utf-8", "surrogatepass")) % len(self.buckets)]

    def get(self, request_id: str, default: bytes | None = None) -> bytes | None:
        entry: bytes | None = self._bucket(request_id).get(request_id, default)
        return entry

    def __getitem__(self, request_id: str) -> bytes:
        entry: bytes = self._bucket(request_id)[request_id]
        return entry

    def __setitem__(self, request_id: str, entry: bytes) -> None:
        self._bucket(request_id)[request_id] = entry

    def __delitem__(self, request_id: str) -> None:
        del self._bucket(request_id)[request_id]

    def __contains__(self, request_id: object) -> bool:
        return isinstance(request_id, str) and request_id in self._bucket(request_id)

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self.buckets)

    def items(self) -> Iterator[tuple[str, bytes]]:
        for bucket in self.buckets:
            yield from bucket.items()

    def keys(self) -> Iterator[str]:
        for bucket in self.buckets:
            yield from bucket.keys()


class ReplyTable(OOBTree):  # type: ignore[misc]  # BTrees ships no type hints
    """The table of formats 6 and 7 (a BTree in small nodes); migration 8 replaces it."""

    max_leaf_size = 16
    max_internal_size = 64


def create_table(root: MutableMapping[str, Any]) -> None:
    """Migration: add the reply table to an image that lacks it."""
    if TABLE_KEY not in root:
        root[TABLE_KEY] = ReplyBuckets()


def repack_table(root: MutableMapping[str, Any]) -> None:
    """Migration: move a table of ``(time, reply bytes)`` tuples in a plain
    OOBTree (format 2..5) into a :class:`ReplyTable` of packed entries."""
    old = root.get(TABLE_KEY)
    if isinstance(old, (ReplyTable, ReplyBuckets)):
        return
    table = ReplyTable()
    for request_id, entry in old.items() if old is not None else ():
        stamp, reply = entry
        table[request_id] = _STAMP.pack(stamp) + reply
    root[TABLE_KEY] = table


def spread_table(root: MutableMapping[str, Any]) -> None:
    """Migration: move the entries of a :class:`ReplyTable` (format 6..7) into
    :class:`ReplyBuckets`."""
    old = root.get(TABLE_KEY)
    if isinstance(old, ReplyBuckets):
        return
    table = ReplyBuckets()
    for request_id, entry in old.items() if old is not None else ():
        table[request_id] = entry
    root[TABLE_KEY] = table


def _table(root: MutableMapping[str, Any]) -> ReplyBuckets:
    table = root[TABLE_KEY]
    assert isinstance(table, ReplyBuckets)
    return table


def stored_reply(root: MutableMapping[str, Any], request_id: str) -> dict[str, Any] | None:
    """The reply stored for `request_id`, or None."""
    entry = _table(root).get(request_id)
    if entry is None:
        return None
    reply: dict[str, Any] = ormsgpack.unpackb(entry[_STAMP.size :])
    return reply


def store_reply(root: MutableMapping[str, Any], request_id: str, reply: dict[str, Any]) -> None:
    """Store `reply` in the current transaction (the caller commits)."""
    _table(root)[request_id] = _STAMP.pack(time.time()) + ormsgpack.packb(reply)


def stored_at(entry: bytes) -> float:
    """When an entry of the table was stored (seconds since the epoch)."""
    stamp: float = _STAMP.unpack_from(entry)[0]
    return stamp


def prune(root: MutableMapping[str, Any], max_size: int) -> int:
    """Drop the oldest entries beyond `max_size`; returns how many were dropped."""
    table = _table(root)
    size = len(table)
    if size <= max_size:
        return 0
    by_age = sorted(table.items(), key=lambda item: stored_at(item[1]))
    excess = by_age[: size - max_size]
    for key, _ in excess:
        del table[key]
    return len(excess)
