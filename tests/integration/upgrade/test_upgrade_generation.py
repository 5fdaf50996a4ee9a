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


def test_an_upgrade_waits_for_a_generation_and_keeps_serving(daemon_factory: Any, batos_dirs: Any) -> None:
    script = batos_dirs.root / "script.json"
    script.write_text(json.dumps({"replies": [REPLY], "seconds_per_piece": 0.05}))
    daemon = daemon_factory(extra_args=["--backend", "scripted", "--model", str(script)])
    tokens: queue.Queue[str] = queue.Queue()
    replies: list[dict[str, Any]] = []

    def send() -> None:
        def on_event(event: dict[str, Any]) -> None:
            if event["kind"] == "token":
                tokens.put(event["data"]["text"])

        with Client.from_connection_info(daemon.info, timeout=30.0, retries=2) as client:
            replies.append(client.request(send_request("genesis", "greet:", ["Ada"]), on_event=on_event))

    sender = threading.Thread(target=send)
    sender.start()
    tokens.get(timeout=30)  # the generation is running
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
    script = batos_dirs.root / "script.json"
    long_reply = f"```python\n{GREET}```\n" + " and more words" * 400  # about 60 s at 0.05 s a word
    script.write_text(json.dumps({"replies": [long_reply], "seconds_per_piece": 0.05}))
    daemon = daemon_factory(extra_args=["--backend", "scripted", "--model", str(script)])
    tokens: queue.Queue[str] = queue.Queue()
    replies: list[dict[str, Any]] = []

    def send() -> None:
        def on_event(event: dict[str, Any]) -> None:
            if event["kind"] == "token":
                tokens.put(event["data"]["text"])

        with Client.from_connection_info(daemon.info, timeout=90.0, retries=2) as client:
            replies.append(client.request(send_request("genesis", "greet:", ["Ada"]), on_event=on_event))

    sender = threading.Thread(target=send)
    sender.start()
    tokens.get(timeout=30)
    began = time.monotonic()
    done = run_batos(daemon.dirs, "upgrade", "--grace", "1", "--json")
    took = time.monotonic() - began
    sender.join(30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "upgraded"
    assert took < 40, f"the upgrade took {took:.1f} s: it waited for the generation"
    assert replies and replies[0]["type"] == "error_reply" and replies[0]["code"] == "shutting_down", replies
    info = current_info(daemon.dirs, daemon)
    assert request(info, source_request("genesis", "greet:"))["code"] == "method_not_found"
    stop_and_wait(info)
