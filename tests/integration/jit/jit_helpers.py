"""Helpers for the JIT's end-to-end tests: scripted daemons, the CLI as a subprocess, queries.

A scripted daemon is a real ``python -m batos_core.daemon`` started with
``--backend scripted --model FILE.json``: its "model" answers with the given
replies in order, and a miss that would need one more reply fails with
``ScriptExhausted`` (which is how a test proves the model was never asked).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batos_cli import connect
from batos_core.daemon_config import DaemonConfig
from batos_core.protocol.builders import (
    history_request,
    inspect_request,
    send_request,
)
from batos_core.protocol.client import Client

#: The console script's code, without depending on where .venv/bin is.
BATOS = [sys.executable, "-m", "batos_cli.main"]

GREET = "def greet_(self, name):\n    return f'Hello, {name}!'\n"
FACTORIAL = (
    "def factorial_(self, n):\n    result = 1\n    for i in range(2, n + 1):\n"
    "        result *= i\n    return result\n"
)
DEPOSIT = "def deposit_(self, amount):\n    self.balance = self.balance + amount\n    return self.balance\n"


def fenced(source: str, chatter: bool = True) -> str:
    """A model-like reply: the source in a python fence, with chatter around it."""
    block = f"```python\n{source.rstrip()}\n```"
    return f"Sure! Here is the method:\n\n{block}\n\nIt should work.<|im_end|>" if chatter else block


@dataclass
class ScriptedDaemons:
    """Starts daemons whose model is a script of replies (see module docstring)."""

    factory: Any  # tests/integration/conftest.py's DaemonFactory
    dirs: Any  # BatosDirs
    scripts: int = 0

    def __call__(
        self,
        replies: Sequence[str],
        *,
        image: Path | None = None,
        extra_args: Sequence[str] = (),
        seconds_per_piece: float = 0.0,
        candidates: int = 1,
    ) -> Any:
        """`seconds_per_piece` gives the model a pace (each word of a reply takes that long).

        `candidates`: K per miss. 1 (one reply per attempt) unless a test is about
        choosing among candidates, so each reply in a script is one attempt.
        """
        self.scripts += 1
        script = self.dirs.root / f"script-{self.scripts}.json"
        body: Any = list(replies)
        if seconds_per_piece:
            body = {"replies": body, "seconds_per_piece": seconds_per_piece}
        script.write_text(json.dumps(body))
        return self.factory(
            image=image,
            extra_args=[
                "--backend",
                "scripted",
                "--model",
                str(script),
                "--candidates",
                str(candidates),
                *extra_args,
            ],
        )

    def plain(self, *, image: Path | None = None, extra_args: Sequence[str] = ()) -> Any:
        """A daemon with no model at all (``--backend none``): a miss is an error."""
        return self.factory(image=image, extra_args=["--backend", "none", *extra_args])


def call(daemon: Any, message: Mapping[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """One request on a fresh client; the reply dict (maybe an error_reply)."""
    with Client.from_connection_info(daemon.info, timeout=timeout, retries=0) as client:
        return client.request(message)


def send(daemon: Any, receiver: str, selector: str, *args: Any) -> dict[str, Any]:
    return call(daemon, send_request(receiver, selector, list(args)))


def result_of(daemon: Any, receiver: str, selector: str, *args: Any) -> Any:
    """The result of a send; fails the test with the error reply if there is one."""
    reply = send(daemon, receiver, selector, *args)
    assert reply["type"] == "send_reply", reply
    return reply["result"]


def history(daemon: Any, selector: str = "", target: str = "") -> list[dict[str, Any]]:
    reply = call(daemon, history_request(target, selector, 10_000, include_source=True))
    assert reply["type"] == "history_reply", reply
    entries: list[dict[str, Any]] = reply["entries"]
    return entries


def slot_names(daemon: Any, target: str = "genesis") -> list[str]:
    reply = call(daemon, inspect_request(target))
    assert reply["type"] == "inspect_reply", reply
    return [slot["name"] for slot in reply["slots"]]


@dataclass
class BatosCli:
    """Runs ``batos`` in a subprocess with the test's private directories."""

    dirs: Any
    images: list[Path] = field(default_factory=list)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env: dict[str, str] = self.dirs.env(extra)
        env.pop("NO_COLOR", None)
        env.pop("FORCE_COLOR", None)
        env["COLUMNS"] = "120"
        env["USER"] = env["LOGNAME"] = "tester"
        return env

    def __call__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        image: Path | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """``batos [--image IMAGE] *args``; a daemon it starts for IMAGE is stopped at teardown."""
        prefix: list[str] = []
        if image is not None:
            prefix = ["--image", str(image)]
            self.images.append(image)
        return subprocess.run(
            [*BATOS, *prefix, *args], env=self.env(env), capture_output=True, text=True, timeout=timeout
        )

    def popen(
        self, *args: str, env: Mapping[str, str] | None = None, **options: Any
    ) -> subprocess.Popen[str]:
        return subprocess.Popen([*BATOS, *args], env=self.env(env), text=True, **options)

    def close(self) -> None:
        for image in self.images:
            config = DaemonConfig(image=str(image), runtime_dir=self.dirs.runtime_dir)
            info = connect.running(config)
            if info is None:
                continue
            try:
                connect.stop(config, timeout=30.0)
            except Exception:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(info.pid, signal.SIGKILL)
                raise
