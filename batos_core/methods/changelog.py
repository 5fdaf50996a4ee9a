"""The image's change log (Smalltalk's ``.changes``): every method install,
revert, replay and rejection, suspension and resumption, in order, with its provenance and source.

It lives in the image (root ``batos.changes``), so it travels with the image
and is written in the same transaction as the install it records. `replay`
rebuilds the methods of a fresh image from an exported log without a model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import persistent
from BTrees.Length import Length
from BTrees.LOBTree import LOBTree

LOG_KEY = "batos.changes"
ACTIONS = ("install", "revert", "replay", "reject", "suspend", "resume")


@dataclass(frozen=True)
class ChangeRecord:
    """One entry of the change log (plain data; JSON-exportable)."""

    seq: int
    action: str
    time: float
    target: str  # oid, 0x hex
    target_name: str  # lobby name of the receiver, or "" (stable across images)
    selector: str
    version: int  # 0 for a rejection
    source: str
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChangeRecord:
        return cls(
            seq=int(data.get("seq", 0)),
            action=str(data.get("action", "install")),
            time=float(data.get("time", 0.0)),
            target=str(data.get("target", "")),
            target_name=str(data.get("target_name", "")),
            selector=str(data["selector"]),
            version=int(data.get("version", 0)),
            source=str(data.get("source", "")),
            provenance=dict(data.get("provenance") or {}),
        )


class ChangeLog(persistent.Persistent):
    """An append-only, ordered log of ChangeRecords (as plain dicts) keyed by sequence number.

    The counter is a conflict-resolving `BTrees.Length`, and each record is a
    new key, so concurrent appends from different workers do not conflict on
    the same bucket entry (BTrees resolve distinct-key inserts).
    """

    def __init__(self) -> None:
        self.records = LOBTree()
        self.counter = Length()

    def append(
        self,
        action: str,
        *,
        target: str,
        target_name: str,
        selector: str,
        version: int,
        source: str,
        provenance: dict[str, Any],
    ) -> ChangeRecord:
        """Add a record in the current transaction (the caller commits)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown change-log action {action!r}")
        self.counter.change(1)
        seq = self.counter()
        while seq in self.records:  # a concurrent append took this number
            self.counter.change(1)
            seq = self.counter()
        record = ChangeRecord(
            seq, action, time.time(), target, target_name, selector, version, source, _plain(provenance)
        )
        self.records[seq] = record.to_json()
        return record

    def __iter__(self) -> Iterator[ChangeRecord]:
        for data in self.records.values():
            yield ChangeRecord.from_json(dict(data))

    def newest_first(self, before_seq: int = 0) -> Iterator[ChangeRecord]:
        """Records newest first; with `before_seq`, only those older than it."""
        keys = list(self.records.keys(max=before_seq - 1) if before_seq > 0 else self.records.keys())
        for seq in reversed(keys):
            yield ChangeRecord.from_json(dict(self.records[seq]))

    def __len__(self) -> int:
        return len(self.records)


def create_log(root: MutableMapping[str, Any]) -> None:
    """Migration: add an empty change log."""
    if LOG_KEY not in root:
        root[LOG_KEY] = ChangeLog()


def change_log(root: MutableMapping[str, Any]) -> ChangeLog:
    log = root[LOG_KEY]
    assert isinstance(log, ChangeLog)
    return log


def query(
    log: ChangeLog,
    *,
    target: str = "",
    target_name: str = "",
    selector: str = "",
    limit: int = 50,
    before_seq: int = 0,
) -> Iterator[ChangeRecord]:
    """Matching records, newest first, at most `limit`; empty filters match
    anything. `target` matches the oid, `target_name` the lobby name;
    `before_seq` > 0 starts below that sequence number (the next page)."""
    found = 0
    for record in log.newest_first(before_seq):
        if target and record.target != target and record.target_name != target_name:
            continue
        if selector and record.selector != selector:
            continue
        yield record
        found += 1
        if found >= limit:
            return


def export_jsonl(records: Iterable[ChangeRecord], path: Path) -> int:
    """Write records oldest-first as JSON lines; returns how many."""
    count = 0
    with path.open("w") as fh:
        for record in records:
            fh.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[ChangeRecord]:
    """Records from a JSONL export; raises ValueError naming the bad line."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(ChangeRecord.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a change-log record ({exc})") from None
    return records


def _plain(value: Any) -> Any:
    """Provenance as plain JSON-able data (no persistent containers in the log)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
