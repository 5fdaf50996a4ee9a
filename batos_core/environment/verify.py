"""Verify a new environment before the daemon is touched (standard library only).

The check runs in the new interpreter (`batos_core.environment.verify_child`): it
imports batos and the daemon, every module the image's methods import and the
modules of the requested distributions; it opens the image read-only (a copy
when the new batos would migrate it) and loads every object: no Broken
object, every Method compiles. It prints one JSON line, parsed here.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

VERIFY_TIMEOUT_S = 600.0
STDERR_TAIL_LINES = 8


@dataclass(frozen=True)
class VerifyReport:
    """The outcome; `problems` is empty when the environment may serve the image."""

    python: str
    objects: int = 0
    methods: int = 0
    modules: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_environment(
    python: str,
    image: str,
    *,
    distributions: Sequence[str] = (),
    timeout: float = VERIFY_TIMEOUT_S,
) -> VerifyReport:
    """Run the checks in `python` against `image` (a path or URI).

    `distributions` are distribution names whose top-level modules must import
    (the ``--with`` packages). Never raises for a failing environment: every
    failure, including one to start the interpreter, is a problem in the report.
    """
    args = [python, "-m", "batos_core.environment.verify_child", "--image", image]
    for name in distributions:
        args += ["--distribution", name]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return VerifyReport(python, problems=[f"cannot run {python}: {exc}"])
    lines = done.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1])
        return VerifyReport(python=python, **data)
    except (IndexError, ValueError, TypeError):
        tail = [line for line in done.stderr.splitlines() if line.strip()][-STDERR_TAIL_LINES:]
        reason = tail[-1].strip() if tail else f"exit status {done.returncode}, no report"
        return VerifyReport(python, problems=[f"the verifier failed in {python}: {reason}"])
