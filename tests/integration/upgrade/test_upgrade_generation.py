"""`batos upgrade` while a method is being generated: it waits, still serving, and loses nothing."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

from batos_core.protocol.builders import send_request, source_request
from batos_core.protocol.client import Client

from .conftest import current_info, request, run_batos, stop_and_wait

GREET = "def greet_(self, name):\n    return f'Hello, {name}!'\n"
#: About 120 words at 0.05 s each: the "model" needs about 6 s, longer than a
#: successor takes to reach standby.
REPLY = f"```python\n{GREET}```\n" + " and more words" * 40


class Generation:
    """A scripted daemon whose model sends `reply` at 0.05 s a word, and a client
    thread whose `greet: Ada` is being generated once this is built."""

    def __init__(self, daemon_factory: Any, batos_dirs: Any, reply: str, wait: float) -> None:
        script = batos_dirs.root / "script.json"
        script.write_text(json.dumps({"replies": [reply], "seconds_per_piece": 0.05}))
        self.daemon = daemon_factory(
            extra_args=["--backend", "scripted", "--model", str(script), "--candidates", "1"]
        )
        self.replies: list[dict[str, Any]] = []
        tokens: queue.Queue[str] = queue.Queue()

        def send() -> None:
            def on_event(event: dict[str, Any]) -> None:
                if event["kind"] == "token":
                    tokens.put(event["data"]["text"])

            with Client.from_connection_info(self.daemon.info, timeout=wait, retries=2) as client:
                message = send_request("genesis", "greet:", ["Ada"])
                self.replies.append(client.request(message, on_event=on_event))

        self.sender = threading.Thread(target=send)
        self.sender.start()
        tokens.get(timeout=30)  # the generation is running


def test_an_upgrade_waits_for_a_generation_and_keeps_serving(daemon_factory: Any, batos_dirs: Any) -> None:
    generation = Generation(daemon_factory, batos_dirs, REPLY, wait=30.0)
    daemon, sender, replies = generation.daemon, generation.sender, generation.replies
    upgrade: list[Any] = []
    upgrader = threading.Thread(target=lambda: upgrade.append(run_batos(daemon.dirs, "upgrade", "--json")))
    upgrader.start()
    # While the upgrade waits for the generation, the old daemon still answers at once.
    slowest = 0.0
    while sender.is_alive():
        began = time.monotonic()
        assert request(daemon.info, send_request("genesis", "printString"))["type"] == "send_reply"
        slowest = max(slowest, time.monotonic() - began)
        time.sleep(0.05)
    sender.join()
    upgrader.join(120)
    assert slowest < 1.0, f"a request waited {slowest:.2f} s during the generation"
    assert replies[0]["type"] == "send_reply" and replies[0]["result"] == "Hello, Ada!", replies
    done = upgrade[0]
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "upgraded"
    info = current_info(daemon.dirs, daemon)
    assert request(info, source_request("genesis", "greet:"))["source"] == GREET  # the successor has it
    stop_and_wait(info)


def test_past_its_grace_an_upgrade_stops_the_generation(daemon_factory: Any, batos_dirs: Any) -> None:
    long_reply = f"```python\n{GREET}```\n" + " and more words" * 400  # about 60 s at 0.05 s a word
    generation = Generation(daemon_factory, batos_dirs, long_reply, wait=90.0)
    daemon, replies = generation.daemon, generation.replies
    began = time.monotonic()
    done = run_batos(daemon.dirs, "upgrade", "--grace", "1", "--json")
    took = time.monotonic() - began
    generation.sender.join(30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "upgraded"
    assert took < 40, f"the upgrade took {took:.1f} s: it waited for the generation"
    assert replies and replies[0]["type"] == "error_reply" and replies[0]["code"] == "shutting_down", replies
    info = current_info(daemon.dirs, daemon)
    assert request(info, source_request("genesis", "greet:"))["code"] == "method_not_found"
    stop_and_wait(info)
