"""A deterministic backend that re-serves recorded method sources.

The records come from a change log: a JSONL file (one JSON object a line) or
the image's in-memory log handed in as a list of mappings. Each record has at
least ``selector`` and ``source`` (``receiver`` and the rest are ignored
here). For a selector recorded several times the last record wins, as in a
Smalltalk ``.changes`` file replayed in order; records whose ``action`` is
``reject`` (a vetoed proposal) are skipped.

The reply is the source in a fenced ``python`` block, so it goes through the
same extraction as a model's reply.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from batos_core.jit.backends.base import (
    BackendError,
    Generation,
    Message,
    TokenCallback,
    check_cancel,
)
from batos_core.selectors import shown_selector, slot_name


class NoRecordedSource(BackendError, LookupError):
    """The log has no source for the selector asked for (or none could be found)."""

    def __init__(self, selector: str | None) -> None:
        what = f"selector {selector!r}" if selector else "any selector named in the prompt"
        super().__init__(f"the replay log has no recorded source for {what}")
        self.selector = selector


def read_change_log(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL change log; blank lines are skipped.

    Raises ``BackendError`` naming the line for a line that is not a JSON
    object, and ``OSError`` if the file cannot be read.
    """
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise BackendError(f"{path}:{number}: not JSON ({error.msg})") from error
            if not isinstance(record, dict):
                raise BackendError(f"{path}:{number}: a record must be a JSON object")
            records.append(record)
    return records


class ReplayBackend:
    """Serves ``source`` of the latest record whose selector matches."""

    name = "replay"

    def __init__(self, records: Iterable[Mapping[str, Any]] | Path | str, *, fence: bool = True) -> None:
        if isinstance(records, str | Path):
            self.model_id = f"replay:{records}"
            records = read_change_log(Path(records))
        else:
            self.model_id = "replay:change-log"
        self._fence = fence
        self._sources: dict[str, str] = {}
        for record in records:
            if record.get("action") == "reject":
                continue  # a rejected proposal's code must never come back through replay
            selector, source = record.get("selector"), record.get("source")
            # Suspend and resume records carry no source: they must not blank one out.
            if isinstance(selector, str) and isinstance(source, str) and source:
                self._sources[slot_name(selector)] = source
        # Longest first, so ``at_put_`` wins over ``at_`` when both appear.
        names = sorted(self._sources, key=len, reverse=True)
        self._mention = (
            re.compile(
                "|".join(
                    rf"(?<![\w:])(?:{re.escape(n)}|{re.escape(shown_selector(n))})(?![\w:])" for n in names
                )
            )
            if names
            else None
        )

    def load(self) -> None:
        """Nothing to load (the log was read in the constructor)."""

    @property
    def selectors(self) -> frozenset[str]:
        """The Python-form selectors this log can serve."""
        return frozenset(self._sources)

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
        selector: str | None = None,
        prefill: str = "",
        seed: int | None = None,
    ) -> Generation:
        """Reply with the recorded source for ``selector``.

        Without ``selector``, the first recorded selector (Python or Self
        form) named in the last user message is used. ``temperature`` and
        ``max_new_tokens`` are ignored: a replay is exact. Raises
        ``NoRecordedSource`` when nothing matches, ``GenerationCancelled``
        when ``cancel`` is already set.
        """
        started = time.perf_counter()
        key = slot_name(selector) if selector else self._selector_in(messages)
        if key is None or key not in self._sources:
            raise NoRecordedSource(selector)
        check_cancel(cancel, "")
        source = self._sources[key]
        text = f"```python\n{source.rstrip()}\n```\n" if self._fence else source
        if on_token is not None:
            on_token(text)
        return Generation(text, 1, time.perf_counter() - started, self.model_id, self.name)

    def _selector_in(self, messages: Sequence[Message]) -> str | None:
        user = [m.get("content", "") for m in messages if m.get("role") == "user"]
        if not user or self._mention is None:
            return None
        found = self._mention.search(user[-1])
        return slot_name(found.group(0)) if found else None
