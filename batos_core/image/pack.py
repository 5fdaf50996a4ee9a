"""Packing a world: ZODB's pack through its storage, keeping what `batos history` shows.

A pack removes object revisions older than the cut-off that no later state
needs, and objects nothing reaches from the root any more. Everything batos
shows as history is reachable from the root: the change log
(``batos.changes``: installs, reverts, rejections, with their sources) and
every method version (each `Method` keeps the one it replaced as
``previous``). So a pack never drops it, whatever the cut-off, and `pack_image`
checks that afterwards: the change log must read the same.

Through a ZEO server or RelStorage the pack runs while daemons serve the
world. A FileStorage is locked by its daemon: packing it needs the daemon
stopped (ImageLocked), or the file served by ``batos image serve`` and packed
as ``zeo://``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from batos_core.image.errors import ImageError
from batos_core.image.image import open_image

log = logging.getLogger(__name__)


class PackChangedHistory(ImageError):
    """The change log read differently after the pack (never expected: see the module docstring)."""


@dataclass(frozen=True)
class PackResult:
    uri: str
    days: float
    size_before: int
    size_after: int
    seconds: float


def pack_image(uri: str, days: float) -> PackResult:
    """Pack the world at `uri`, keeping `days` days of revisions. Raises ValueError for
    negative days, ImageError subclasses from opening (ImageLocked for a served file),
    PackChangedHistory if the change log changed."""
    if days < 0:
        raise ValueError(f"--days must be 0 or more, not {days:g}")
    with open_image(uri) as image:
        storage = image.db.storage
        before, size_before = _history_digest(image), _size(storage)
        started = time.perf_counter()
        image.db.pack(days=days)
        seconds = time.perf_counter() - started
        if _history_digest(image) != before:
            raise PackChangedHistory(f"{image.uri}: the change log reads differently after the pack")
        result = PackResult(image.uri, days, size_before, _size(storage), seconds)
    log.info("packed %s (%g days kept) in %.2f s", result.uri, days, seconds)
    return result


def _history_digest(image: Any) -> str:
    from batos_core.methods.changelog import change_log

    with image.session() as session:
        records = [record.to_json() for record in change_log(session.root)]
    return hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()


def _size(storage: Any) -> int:
    try:
        return int(storage.getSize())
    except Exception:  # a storage that cannot tell (some ZEO setups): sizes are informative only
        return 0
