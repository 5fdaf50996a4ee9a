"""Hostile and broken model replies through a real daemon: each is accepted, or
rejected with a clear reason and nothing installed; repair; reserved selectors;
the daemon keeps serving while a trial runs."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
from jit_helpers import ScriptedDaemons, fenced, history, result_of, send, slot_names

from batos_core.protocol.builders import send_request, source_request, status_request
from batos_core.protocol.client import Client

ATTEMPTS = 3  # the pipeline's default number of attempts

LOOP = "def spin(self):\n    n = 0\n    while True:\n        n += 1\n"

CORPUS = [
    pytest.param(
        "```python\ndef helper(x):\n    return x\n\ndef sumOf_(self, numbers):\n    return sum(numbers)\n```",
        "sumOf:",
        [[1, 2]],
        "found 2 top-level functions (helper, sumOf_)",
        id="two-functions",
    ),
    pytest.param(
        "```python\ndef sum_of(self, numbers):\n    return sum(numbers)\n```",
        "sumOf:",
        [[1]],
        "named sum_of but must be named sumOf_",
        id="wrong-name",
    ),
    pytest.param(
        "```python\ndef probe(self):\n    return ().__class__.__bases__[0].__subclasses__()\n```",
        "probe",
        [],
        "__subclasses__",
        id="subclasses-walk",
    ),
    pytest.param(
        "```python\ndef probe(self):\n    import os; os.system('touch /tmp/pwned')\n    return self\n```",
        "probe",
        [],
        "import of os is not allowed",
        id="os-system",
    ),
    pytest.param(
        "```python\ndef probe(self):\n    return 'x' * 10**10\n```",
        "probe",
        [],
        "MemoryError",
        id="huge-allocation",
    ),
    pytest.param(
        "```python\ndef probe(self):\n    return [1, 2\n```",
        "probe",
        [],
        "syntax error",
        id="syntax-error",
    ),
    pytest.param(
        "```python\ndef probe(self):\n    raise ValueError('no luck')\n```",
        "probe",
        [],
        "ValueError: no luck",
        id="raises",
    ),
    pytest.param(
        "```python\ndef sumOf_(self, *args):\n    return sum(args[0])\n```",
        "sumOf:",
        [[1, 2]],
        "*args is not allowed",
        id="star-args",
    ),
]


def _python(selector: str) -> str:
    return selector.replace(":", "_")


def _assert_rejected(daemon: Any, reply: dict[str, Any], selector: str, reason: str, last_line: str) -> None:
    """The error reply names the reason and shows the last code; nothing was installed;
    the change log holds one `reject` record."""
    assert reply["type"] == "error_reply", reply
    assert (reply["code"], reply["name"]) == ("generation_failed", "GenerationFailed"), reply
    message = reply["message"]
    assert f"in {ATTEMPTS} attempt(s)" in message and reason in message, message
    assert "--- last code ---" in message and last_line in message.split("--- last code ---")[1], message
    assert _python(selector) not in slot_names(daemon)
    records = history(daemon, _python(selector))
    assert [(r["action"], r["version"]) for r in records] == [("reject", 0)], records
    provenance = records[0]["provenance"]
    assert reason in provenance["reason"] and provenance["attempts"] == ATTEMPTS
    assert len(provenance["failures"]) == ATTEMPTS
    assert last_line in records[0]["source"]


@pytest.mark.parametrize(("reply", "selector", "args", "reason"), CORPUS)
def test_a_bad_reply_is_refused_and_nothing_is_installed(
    scripted: ScriptedDaemons, reply: str, selector: str, args: list[Any], reason: str
) -> None:
    daemon = scripted([reply] * ATTEMPTS)
    answer = send(daemon, "genesis", selector, *args)
    last_line = reply.split("```python\n")[1].split("\n")[0]  # the def line
    _assert_rejected(daemon, answer, selector, reason, last_line)
    # The daemon is unharmed and answers the next message.
    assert result_of(daemon, "genesis", "printString")


def test_code_in_a_fence_with_chatter_is_accepted(scripted: ScriptedDaemons) -> None:
    source = "def sumOf_(self, numbers):\n    return sum(numbers)\n"
    daemon = scripted([fenced(source, chatter=True)])
    assert result_of(daemon, "genesis", "sumOf:", [1, 2, 3]) == 6
    reply = send(daemon, "genesis", "sumOf:", [4, 5])
    assert reply["result"] == 9


def test_the_repair_loop_installs_the_third_attempt(scripted: ScriptedDaemons) -> None:
    good = "def sumOf_(self, numbers):\n    return sum(numbers)\n"
    daemon = scripted(
        [
            "```python\ndef sumOf_(self, numbers):\n    return sum(numbers\n```",  # syntax error
            "```python\ndef sum_of(self, numbers):\n    return sum(numbers)\n```",  # wrong name
            fenced(good),
        ]
    )
    assert result_of(daemon, "genesis", "sumOf:", [1, 2, 3]) == 6
    with Client.from_connection_info(daemon.info, timeout=30.0, retries=0) as client:
        installed = client.request(source_request("genesis", "sumOf:"))
    assert installed["source"] == good and installed["provenance"]["attempts"] == ATTEMPTS
    assert [r["action"] for r in history(daemon, "sumOf_")] == ["install"]


@pytest.mark.parametrize("selector", ["__class__", "_p_changed", "__subclasses__", "_v_cache"])
def test_a_reserved_selector_never_reaches_the_model(scripted: ScriptedDaemons, selector: str) -> None:
    daemon = scripted([])  # any call to the model would fail with ScriptExhausted
    reply = send(daemon, "genesis", selector)
    assert (reply["type"], reply["code"], reply["name"]) == ("error_reply", "bad_request", "InvalidSlotName")
    assert "reserved" in reply["message"] and "scripted" not in reply["message"]
    assert history(daemon) == []
    # The first real miss is the model's first call: the reserved one made none.
    real = send(daemon, "genesis", "frobnicate")
    assert "no scripted reply left for call 1" in real["message"], real


def _timed(action: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = action()
    return result, time.monotonic() - started


@pytest.mark.slow
def test_an_infinite_loop_is_contained_while_the_daemon_serves_others(scripted: ScriptedDaemons) -> None:
    daemon = scripted([fenced(LOOP)] * ATTEMPTS)
    assert result_of(daemon, "genesis", "setSlot:value:", "x", 42) is not None
    in_trial = threading.Event()
    events: list[tuple[float, dict[str, Any]]] = []
    outcome: dict[str, Any] = {}

    def on_event(message: dict[str, Any]) -> None:
        events.append((time.monotonic(), message))
        if message["kind"] == "phase" and message["data"].get("phase") == "trial":
            in_trial.set()

    def looping() -> None:
        with Client.from_connection_info(daemon.info, timeout=30.0, retries=0) as client:
            outcome["reply"] = client.request(send_request("genesis", "spin"), on_event=on_event)

    worker = threading.Thread(target=looping)
    worker.start()
    try:
        assert in_trial.wait(60), "the trial never started"
        with Client.from_connection_info(daemon.info, timeout=5.0, retries=0) as other:
            status, status_s = _timed(lambda: other.request(status_request()))
            sent, send_s = _timed(lambda: other.request(send_request("genesis", "x")))
        assert worker.is_alive(), "the looping trial ended before the other client was served"
    finally:
        worker.join(120)
    assert status["type"] == "status_reply" and status_s < 1.0, (status, status_s)
    assert sent == {"type": "send_reply", "id": sent["id"], "result": 42} and send_s < 1.0, (sent, send_s)
    _assert_rejected(daemon, outcome["reply"], "spin", "TimeoutError", "def spin(self):")
    # The request kept its client informed: no silence longer than the 2 s keepalive.
    times = [t for t, _ in events]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) < 2.5, gaps
