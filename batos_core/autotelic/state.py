"""The autotelic record in the image (root ``batos.autotelic``): every act, in order.

An act is written twice: once when it starts (outcome ``running``) and once
when it ends, each in its own short transaction, so a crash mid-act leaves a
visible ``running`` record that the next daemon marks ``interrupted``.
Records are plain dicts in a BTree keyed by sequence number (distinct-key
inserts from different threads do not conflict).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import persistent
from BTrees.Length import Length
from BTrees.LOBTree import LOBTree

STATE_KEY = "batos.autotelic"
OUTCOMES = ("running", "installed", "rejected", "cancelled", "failed", "interrupted")


class AutotelicState(persistent.Persistent):  # type: ignore[misc]
    """Acts (seq -> dict) and a counter; see the module docstring."""

    def __init__(self) -> None:
        self.acts = LOBTree()
        self.counter = Length()

    def begin(self, record: dict[str, Any]) -> int:
        """Add a ``running`` act (the caller commits); returns its seq."""
        self.counter.change(1)
        seq = self.counter()
        while seq in self.acts:
            self.counter.change(1)
            seq = self.counter()
        self.acts[seq] = {**_plain(record), "seq": seq, "outcome": "running"}
        return int(seq)

    def finish(self, seq: int, outcome: str, **fields: Any) -> None:
        """Close act `seq` with `outcome` and more fields (the caller commits); KeyError if unknown."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown act outcome {outcome!r}")
        record = dict(self.acts[seq])
        record.update(_plain(fields))
        record["outcome"] = outcome
        self.acts[seq] = record

    def newest_first(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Act records, newest first (plain dict copies)."""
        count = 0
        for seq in reversed(list(self.acts.keys())):
            if limit is not None and count >= limit:
                return
            count += 1
            yield dict(self.acts[seq])

    def since(self, start: float) -> Iterator[dict[str, Any]]:
        """Acts that started at or after `start`, newest first."""
        for record in self.newest_first():
            if float(record.get("started", 0.0)) < start:
                return
            yield record

    def mark_interrupted(self, now: float | None = None) -> int:
        """Close every ``running`` act (a previous daemon died mid-act); returns how many."""
        count = 0
        for seq in list(self.acts.keys()):
            if self.acts[seq].get("outcome") == "running":
                self.finish(seq, "interrupted", finished=now or time.time(), reason="the daemon stopped")
                count += 1
        return count


def create_state(root: MutableMapping[str, Any]) -> None:
    """Migration: add an empty autotelic record."""
    if STATE_KEY not in root:
        root[STATE_KEY] = AutotelicState()


def autotelic_state(root: MutableMapping[str, Any]) -> AutotelicState:
    """The image's record; KeyError if the image predates the migration (open_image runs it)."""
    state = root[STATE_KEY]
    assert isinstance(state, AutotelicState)
    return state


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
