"""What the hand-over needs from the daemon it upgrades: the daemon satisfies `HandoverHost`.

`handover.hand_over` drives a daemon through this protocol only, so nothing in
``batos_core.upgrade`` imports ``batos_core.daemon``: imports run one way
(daemon -> upgrade -> image, protocol).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

#: Sends one event of the upgrade request to its client: (kind, data).
Emit = Callable[[str, dict[str, Any]], None]


class HandoverHost(Protocol):
    """The old daemon, as the hand-over sees it.

    The blocking methods (`stored_reply`, `record_rollback`) run on a thread;
    the async ones on the daemon's event loop.
    """

    @property
    def incarnation(self) -> int:
        """This daemon's incarnation number in the image."""
        ...

    @property
    def image_open(self) -> bool:
        """Whether the image is open (False between `suspend` and `resume`)."""
        ...

    def successor_args(self) -> list[str]:
        """Arguments after the interpreter that start a successor in standby with
        this daemon's settings (``-m batos_core.daemon --standby ...``)."""
        ...

    def successor_stderr_path(self) -> Path:
        """Where the successor's output goes (read back to say why it failed)."""
        ...

    def stored_reply(self, request_id: str) -> dict[str, Any] | None:
        """The reply stored for `request_id` (a retried upgrade), if any. Blocking."""
        ...

    def record_rollback(self, python: str, reason: str, request_id: str, reply: dict[str, Any]) -> None:
        """Record a failed upgrade in this incarnation and store its reply, in one
        transaction. Blocking; raises what the image raises."""
        ...

    async def settle_generations(self, emit: Emit, grace_s: float) -> None:
        """Wait, still serving, until no method is being generated (at most `grace_s`)."""
        ...

    async def suspend(self) -> dict[str, Any]:
        """Stop reading, answer in-flight requests, close image and socket; returns
        the replay guard's state for the successor."""
        ...

    async def resume(self) -> None:
        """Undo `suspend` (rollback). Raises ImageError if the image cannot be reopened."""
        ...

    def retire(self) -> None:
        """A successor serves the image: stop without draining again."""
        ...
