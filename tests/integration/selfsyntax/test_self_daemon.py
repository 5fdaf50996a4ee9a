"""The Self language through a real daemon: the conformance corpus as REPL
statements and inside Self methods defined in the image, a Self method that
outlives its daemon (called, inspected, reverted and replayed from another
process), and a runaway Self loop stopped by a cancel request."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from batos_core.protocol.builders import (
    cancel_request,
    eval_request,
    history_request,
    inspect_request,
    revert_request,
    send_request,
    source_request,
)
from batos_core.protocol.client import Client
from tests.unit.selfsyntax.self_corpus import CORPUS

BATOS = [sys.executable, "-m", "batos_cli.main"]


def call(daemon: Any, message: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    with Client.from_connection_info(daemon.info, timeout=timeout, retries=0) as client:
        return client.request(message)


def evaluate(daemon: Any, source: str) -> Any:
    reply = call(daemon, eval_request(source))
    assert reply["type"] == "eval_reply", (source, reply)
    return reply["result"]


def corpus_selector(index: int) -> str:
    return f"corpus{index}"


@pytest.fixture(scope="module")
def corpus_daemon(module_daemon: Any) -> Iterator[Any]:
    """The module's daemon with every corpus expression installed as a Self method
    ``corpus<i>`` on the lobby, in one statement."""
    slots = ".\n".join(f"{corpus_selector(i)} = ( {source} )" for i, (source, _) in enumerate(CORPUS))
    evaluate(module_daemon, f"lobby _AddSlots: (|\n{slots}\n|)")
    yield module_daemon


def test_the_daemon_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 150


@pytest.mark.parametrize(("index", "source", "expected"), [(i, s, v) for i, (s, v) in enumerate(CORPUS)])
def test_corpus_as_a_statement_and_in_a_self_method(
    corpus_daemon: Any, index: int, source: str, expected: Any
) -> None:
    assert evaluate(corpus_daemon, source) == expected
    assert evaluate(corpus_daemon, corpus_selector(index)) == expected


def test_the_corpus_methods_are_ordinary_methods_reached_by_send(corpus_daemon: Any) -> None:
    index = next(i for i, (source, _) in enumerate(CORPUS) if source.startswith("3 > 2 ifTrue:"))
    reply = call(corpus_daemon, send_request("lobby", corpus_selector(index)))
    assert reply["type"] == "send_reply", reply
    assert reply["result"] == CORPUS[index][1]


# -- persistence across daemon processes -----------------------------------------------


def test_a_self_method_outlives_its_daemon(daemon_factory: Any, batos_dirs: Any) -> None:
    first = daemon_factory()
    evaluate(first, "genesis _AddSlots: (| double: x = ( x * 2 ) |)")
    evaluate(first, "genesis _AddSlots: (| double: x = ( | t | t := x + x. t + 0 ) |)")
    first.stop()

    second = daemon_factory()
    assert evaluate(second, "genesis double: 21") == 42
    reply = call(second, send_request("genesis", "double:", [5]))
    assert reply["type"] == "send_reply" and reply["result"] == 10, reply

    inspected = call(second, inspect_request("genesis"))
    method = next(m for m in inspected["methods"] if m["selector"] == "double_")
    assert method["version"] == 2
    assert method["provenance"]["language"] == "self"
    assert method["provenance"]["self_source"] == "double: x = ( | t | t := x + x. t + 0 )"

    first_source = call(second, source_request("genesis", "double:", 1))
    assert first_source["provenance"]["self_source"] == "double: x = ( x * 2 )"
    reverted = call(second, revert_request("genesis", "double:", 1))
    assert reverted["type"] == "revert_reply" and reverted["version"] == 3, reverted
    assert evaluate(second, "genesis double: 4") == 8
    second.stop()

    third = daemon_factory()
    current = call(third, source_request("genesis", "double:"))
    assert current["version"] == 3
    assert current["provenance"]["self_source"] == "double: x = ( x * 2 )"
    replayed = subprocess.run(
        [*BATOS, "replay"], env=batos_dirs.env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "installed genesis double:" in replayed.stdout or "installed genesis double_" in replayed.stdout
    entries = call(third, history_request("genesis", "double_", 50))["entries"]
    assert [e["action"] for e in entries][:1] == ["replay"]
    again = call(third, source_request("genesis", "double:"))
    assert again["provenance"]["language"] == "self"
    assert again["provenance"]["self_source"] == "double: x = ( x * 2 )"
    assert evaluate(third, "genesis double: 50") == 100


# -- a runaway loop ------------------------------------------------------------------------


def test_a_cancel_request_stops_a_self_loop_and_rolls_back_its_writes(module_daemon: Any) -> None:
    evaluate(module_daemon, "genesis _AddSlots: (| spins <- 0 |)")
    evaluate(
        module_daemon,
        "genesis _AddSlots: (| spin = ( [ true ] whileTrue: [ spins: spins + 1 ]. 0 ) |)",
    )
    message = eval_request("genesis spin")
    replies: list[dict[str, Any]] = []
    sender = threading.Thread(target=lambda: replies.append(call(module_daemon, message)))
    sender.start()
    deadline = time.monotonic() + 30
    while True:  # in flight: a cancel says so only while the request runs
        answer = call(module_daemon, cancel_request(message["id"]))
        if answer["cancelled"]:
            break
        assert time.monotonic() < deadline, "the loop never started"
        time.sleep(0.02)
    sender.join(30)
    assert not sender.is_alive(), "the loop was not stopped"
    assert replies[0]["type"] == "error_reply" and replies[0]["code"] == "cancelled", replies
    assert evaluate(module_daemon, "genesis spins") == 0
