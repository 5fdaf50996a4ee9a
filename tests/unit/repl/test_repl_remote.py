"""Completion must never stall typing: a silent daemon gives no completions, quickly."""

from __future__ import annotations

import time
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from batos_cli.repl.completer import SelfCompleter, insertion_text
from batos_cli.repl.remote import Remote, SelectorCache
from batos_core.protocol.connection import ConnectionInfo


def silent_daemon(tmp_path: Path) -> ConnectionInfo:
    # Nothing listens on this socket: requests go unanswered.
    return ConnectionInfo(
        endpoint=f"ipc://{tmp_path}/nobody.sock", key=b"k" * 32, transport="ipc", image="x", pid=1
    )


def test_a_silent_daemon_gives_no_completions_within_the_timeout(tmp_path: Path) -> None:
    remote = Remote(silent_daemon(tmp_path), timeout=5.0, complete_timeout=0.2)
    completer = SelfCompleter(remote, lambda: {"mine": 1})
    try:
        started = time.monotonic()
        offered = [
            c.text
            for c in completer.get_completions(Document("mi"), CompleteEvent(completion_requested=True))
        ]
        assert time.monotonic() - started < 1.0
        assert offered == ["mine"]  # the variable still completes from the client's side
    finally:
        remote.close()


def test_the_cache_expires() -> None:
    now = [0.0]
    cache = SelectorCache(ttl=2.0, clock=lambda: now[0])
    cache.put("genesis", ["clone"])
    now[0] = 1.5
    assert cache.get("genesis") == ["clone"]
    now[0] = 2.5
    assert cache.get("genesis") is None


def test_a_keyword_selector_inserts_its_first_part() -> None:
    assert [insertion_text(s) for s in ("clone", "setSlot:value:", "+")] == ["clone", "setSlot:", "+"]
