"""Image metadata: format version, creation time, incarnations, applied migrations."""

from __future__ import annotations

import time
from typing import Any

import persistent
from persistent.list import PersistentList
from persistent.mapping import PersistentMapping

META_KEY = "batos.meta"
LOBBY_KEY = "lobby"


class ImageMeta(persistent.Persistent):
    """What the image knows about itself, kept in the root under ``batos.meta``."""

    def __init__(self) -> None:
        self.format_version = 0
        self.created = time.time()
        self.incarnation = 0
        self.migrations: PersistentList = PersistentList()
        self.incarnations: PersistentList = PersistentList()

    def record_incarnation(self, info: dict[str, Any]) -> int:
        """Increment the incarnation counter and append `info` (pid, versions, ...)."""
        self.incarnation += 1
        entry = PersistentMapping(dict(info))
        entry["number"] = self.incarnation
        entry.setdefault("started", time.time())
        self.incarnations.append(entry)
        return int(self.incarnation)
