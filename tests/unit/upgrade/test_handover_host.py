"""The hand-over reaches the daemon only through `HandoverHost`, and imports nothing of it."""

from __future__ import annotations

import ast
import asyncio
import sys
from pathlib import Path
from typing import Any

from batos_core.protocol.messages import UpgradeRequest
from batos_core.upgrade.handover import hand_over

ROOT = Path(__file__).resolve().parents[3] / "batos_core"


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at module level, inside functions or under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_upgrade_and_environment_import_nothing_of_the_daemon() -> None:
    files = [*(ROOT / "upgrade").glob("*.py"), *(ROOT / "environment").glob("*.py")]
    assert len(files) >= 7  # the walk found the packages
    leaks = {f.name: m for f in files for m in imported_modules(f) if m.startswith("batos_core.daemon")}
    assert leaks == {}


class StandInHost:
    """A daemon as the hand-over sees it, whose successor is a real process that exits at once."""

    def __init__(self, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self.rollbacks: list[tuple[str, str, str, dict[str, Any]]] = []
        self.suspended = False

    @property
    def incarnation(self) -> int:
        return 7

    @property
    def image_open(self) -> bool:
        return True

    def successor_args(self) -> list[str]:
        return ["-c", "import sys; print('no standby here'); sys.exit(3)"]

    def successor_stderr_path(self) -> Path:
        return self.stderr_path

    def stored_reply(self, request_id: str) -> dict[str, Any] | None:
        return None

    def record_rollback(self, python: str, reason: str, request_id: str, reply: dict[str, Any]) -> None:
        self.rollbacks.append((python, reason, request_id, reply))

    async def settle_generations(self, emit: Any, grace_s: float) -> None:
        raise AssertionError("a successor that never stood by must not lead to a drain")

    async def suspend(self) -> dict[str, Any]:
        self.suspended = True
        return {}

    async def resume(self) -> None:
        raise AssertionError("nothing was suspended")

    def retire(self) -> None:
        raise AssertionError("nothing was handed over")


def test_a_successor_that_exits_before_standby_rolls_back_through_the_host(tmp_path: Path) -> None:
    host = StandInHost(tmp_path / "upgrade.stderr")
    request = UpgradeRequest(id="up-1", python=sys.executable)
    events: list[tuple[str, dict[str, Any]]] = []
    reply = asyncio.run(hand_over(host, request, lambda kind, data: events.append((kind, data))))
    assert reply is not None
    assert (reply["outcome"], reply["incarnation"]) == ("rolled_back", 7)
    assert "exited (status 3)" in reply["reason"] and "no standby here" in reply["reason"]
    assert [(python, request_id) for python, _, request_id, _ in host.rollbacks] == [(sys.executable, "up-1")]
    assert host.rollbacks[0][3] == reply  # the stored reply is the one answered
    assert not host.suspended
    assert events[0][1]["phase"] == "starting the new daemon"
