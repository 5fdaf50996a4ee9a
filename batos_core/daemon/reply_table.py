"""Exactly-once: replies of requests that changed the image, stored by request id.

A request that wrote to the image stores its reply in the same transaction as
its writes, so after a crash either both exist or neither. A retry with the
same id (Lazy Pirate) gets the stored reply instead of a second execution.
The table is bounded: `prune` keeps the newest `max_size` entries.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

import ormsgpack
from BTrees.OOBTree import OOBTree

TABLE_KEY = "batos.replies"


def create_table(root: MutableMapping[str, Any]) -> None:
    """Migration: add the reply table to an image that lacks it."""
    if TABLE_KEY not in root:
        root[TABLE_KEY] = OOBTree()


def _table(root: MutableMapping[str, Any]) -> OOBTree:
    table = root[TABLE_KEY]
    assert isinstance(table, OOBTree)
    return table


def stored_reply(root: MutableMapping[str, Any], request_id: str) -> dict[str, Any] | None:
    """The reply stored for `request_id`, or None."""
    entry = _table(root).get(request_id)
    if entry is None:
        return None
    reply: dict[str, Any] = ormsgpack.unpackb(entry[1])
    return reply


def store_reply(root: MutableMapping[str, Any], request_id: str, reply: dict[str, Any]) -> None:
    """Store `reply` in the current transaction (the caller commits)."""
    _table(root)[request_id] = (time.time(), ormsgpack.packb(reply))


def prune(root: MutableMapping[str, Any], max_size: int) -> int:
    """Drop the oldest entries beyond `max_size`; returns how many were dropped."""
    table = _table(root)
    size = len(table)
    if size <= max_size:
        return 0
    by_age = sorted(table.items(), key=lambda item: item[1][0])
    excess = by_age[: size - max_size]
    for key, _ in excess:
        del table[key]
    return len(excess)
