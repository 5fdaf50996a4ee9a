"""Accepted generations as a chat-format JSONL fine-tuning dataset.

One line per accepted generation (a change-log ``install`` whose provenance
holds the prompt the model saw):

    {"messages": [{"role": "system", ...}, {"role": "user", ...},
                  {"role": "assistant", "content": "```python\\n<final code>\\n```"}],
     "metadata": {"seq": 7, "selector": "...", "target": "...", "model": "...", ...}}

``messages`` is the conversational format Hugging Face TRL's SFTTrainer (and
peft LoRA training on top of it) accepts as is; ``metadata`` has one fixed
schema of strings and numbers so ``datasets.load_dataset("json", ...)`` infers
one Arrow type per column. The assistant turn is the *final* code (after any
repairs), fenced as the model is asked to answer, so training teaches the
answer that passed vetting and the trial. Duplicates (same prompt, same code)
are written once.

Standard library only: the CLI imports this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

#: The provenance key under which the JIT stores the prompt's messages.
PROMPT_KEY = "prompt"
_METADATA_STR = ("selector", "target", "target_name", "model", "backend", "author", "prompt_hash", "intent")


def dataset_record(change: Mapping[str, Any]) -> dict[str, Any] | None:
    """The training record of one change-log entry, or None if it is not an accepted generation.

    Accepted: action ``install``, non-empty source, and a prompt of
    ``{"role", "content"}`` messages in the provenance. Never raises.
    """
    if change.get("action") != "install" or not change.get("source"):
        return None
    provenance = change.get("provenance")
    if not isinstance(provenance, Mapping):
        return None
    prompt = _messages(provenance.get(PROMPT_KEY))
    if not prompt:
        return None
    code = str(change["source"]).rstrip()
    messages = [*prompt, {"role": "assistant", "content": f"```python\n{code}\n```"}]
    metadata: dict[str, Any] = {
        key: str(provenance.get(key, change.get(key, "")) or "") for key in _METADATA_STR
    }
    metadata["selector"] = str(change.get("selector", ""))
    metadata["target"] = str(change.get("target", ""))
    metadata["target_name"] = str(change.get("target_name", ""))
    metadata["seq"] = int(change.get("seq", 0) or 0)
    metadata["version"] = int(change.get("version", 0) or 0)
    metadata["time"] = float(change.get("time", 0.0) or 0.0)
    metadata["attempts"] = int(provenance.get("attempts", 0) or 0)
    metadata["tokens"] = int(provenance.get("tokens", 0) or 0)
    metadata["source_sha256"] = hashlib.sha256(code.encode()).hexdigest()
    return {"messages": messages, "metadata": metadata}


def record_key(record: Mapping[str, Any]) -> str:
    """The deduplication key: a hash of the messages (prompt and final code)."""
    canonical = json.dumps(record["messages"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class DatasetWriter:
    """Writes records as JSON lines, each distinct record once."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._seen: set[str] = set()
        self.written = 0
        self.duplicates = 0

    def add(self, record: Mapping[str, Any]) -> bool:
        """Write `record` unless an identical one was written; returns whether it was."""
        key = record_key(record)
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        self._out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        self.written += 1
        return True


def export_dataset(changes: Iterable[Mapping[str, Any]], path: Path) -> tuple[int, int]:
    """Write the dataset of `changes` (oldest first) to `path`; returns (written, duplicates).

    Raises OSError if `path` cannot be written.
    """
    with path.open("w", encoding="utf-8") as out:
        writer = DatasetWriter(out)
        for change in changes:
            record = dataset_record(change)
            if record is not None:
                writer.add(record)
    return writer.written, writer.duplicates


def _messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, (list, tuple)):
        return []
    out = []
    for message in value:
        if not isinstance(message, Mapping):
            return []
        role, content = message.get("role"), message.get("content")
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            return []
        out.append({"role": str(role), "content": content})
    return out
