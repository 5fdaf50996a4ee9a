"""One generation per miss across the daemons of a world (ZEO, PostgreSQL): a claim with a
lease in the world. The model is scripted (``--backend scripted``): each daemon has one reply,
so a second generation anywhere would install a second version."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from batos_core.protocol.builders import history_request, send_request
from batos_core.protocol.client import Client
from batos_core.protocol.errors import DaemonUnavailable

GREET = "def greet_(self, name):\n    return f'Hello, {name}!'\n"
REPLY = f"Here it is:\n\n```python\n{GREET.rstrip()}\n```\n"


@pytest.fixture(params=["zeo", "postgresql"])
def world(request: pytest.FixtureRequest) -> str:
    if request.param == "zeo":
        return str(request.getfixturevalue("zeo_world").uri)
    return str(request.getfixturevalue("pg_world"))


def scripted(daemon_factory: Any, world: str, instance: str, seconds_per_piece: float) -> Any:
    """A daemon of `world` whose model writes GREET once, one word per `seconds_per_piece`."""
    script = daemon_factory.dirs.root / f"script-{instance}.json"
    script.write_text(json.dumps({"replies": [REPLY], "seconds_per_piece": seconds_per_piece}))
    args = ["--backend", "scripted", "--model", str(script), "--candidates", "1"]
    return daemon_factory(image=world, instance=instance, extra_args=args)


def installs(daemon: Any) -> list[tuple[str, int]]:
    with Client.from_connection_info(daemon.info, timeout=30.0, retries=0) as client:
        reply = client.request(history_request("", "greet_", 1000, include_source=False))
    assert reply["type"] == "history_reply", reply
    return [(entry["action"], entry["version"]) for entry in reply["entries"]]


def test_one_miss_sent_to_three_daemons_at_once_is_generated_once(world: str, daemon_factory: Any) -> None:
    daemons = [scripted(daemon_factory, world, name, 0.05) for name in ("a", "b", "c")]
    clients = [daemon.client(timeout=30.0) for daemon in daemons]
    start = threading.Barrier(len(clients))
    replies: list[dict[str, Any]] = [{} for _ in clients]

    def run(index: int) -> None:
        start.wait()
        replies[index] = clients[index].request(send_request("genesis", "greet:", ["Ada"]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [reply.get("result") for reply in replies] == ["Hello, Ada!"] * 3, replies
    assert installs(daemons[0]) == [("install", 1)]  # one install, one change-log record


def test_a_claim_whose_daemon_died_is_taken_after_its_lease(
    world: str, daemon_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATOS_GENERATION_LEASE", "2")
    slow = scripted(daemon_factory, world, "slow", 2.0)  # would take ~20 s to write its method
    other = scripted(daemon_factory, world, "other", 0.0)
    generating = threading.Event()
    waiting = threading.Event()
    outcome: dict[str, Any] = {}

    def on_slow_event(event: dict[str, Any]) -> None:
        generating.set()  # any event of the slow daemon's miss: it holds the claim

    def on_other_event(event: dict[str, Any]) -> None:
        if event["kind"] == "phase" and event["data"].get("phase") == "waiting":
            waiting.set()

    def send_to_slow() -> None:
        try:
            # Its generation emits an event at least every 2 s: 5 s of silence is its death.
            slow.client(timeout=5.0).request(
                send_request("genesis", "greet:", ["Ada"]), on_event=on_slow_event
            )
        except Exception as exc:  # killed below: its client gives up
            outcome["slow"] = exc

    def send_to_other() -> None:
        outcome["other"] = other.client(timeout=60.0).request(
            send_request("genesis", "greet:", ["Bo"]), on_event=on_other_event
        )

    first = threading.Thread(target=send_to_slow)
    first.start()
    assert generating.wait(60)
    second = threading.Thread(target=send_to_other)
    second.start()
    assert waiting.wait(60)  # the other daemon waits on the claim rather than generate
    slow.kill()
    second.join(timeout=60)
    assert outcome["other"].get("result") == "Hello, Bo!", outcome
    assert installs(other) == [("install", 1)]
    first.join(timeout=60)
    assert isinstance(outcome["slow"], DaemonUnavailable)
